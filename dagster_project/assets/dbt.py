"""dbt assets: every seed, snapshot and model of dbt/, downstream of the raw tables.

Wiring only: the connection, vars and secrets come from ``cww.transform`` (the same code the CLI
and the tests run). dbt sources ``source('cpin', <table>)`` map to the raw assets
``["raw", <table>]``; model and source tests surface as asset checks; incremental models stay
incremental (the nightly job runs plain ``dbt build``; history is rebuilt only on request).
The nightly data-test mark (``cww.transform.record_tested_batch``) is recorded by the step that
completes a run building every dbt node: Dagster splits this op into several steps around the
person matcher, and each step alone is a subset.

The manifest must exist before definitions load: ``cww dbt parse`` (setup / CI) writes it; when it
is missing this module runs the same parse in-process once, or fails saying how to fix it.
"""

import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from cww.errors import CwwError
from cww.transform import DBT_PROJECT_DIR, MANIFEST_PATH
from dagster_project.checks import RAW_GATE, raw_check_outcomes
from dagster_project.resources import CwwSettingsResource


def _manifest() -> Path:
    if MANIFEST_PATH.exists():
        return MANIFEST_PATH
    from cww.transform import parse

    try:
        return parse()
    except CwwError as exc:
        raise CwwError(
            f"the dbt manifest {MANIFEST_PATH} is missing and `dbt parse` failed ({exc}). "
            "Fix: run `cww dbt parse` and correct the dbt project."
        ) from exc


class CwwDbtTranslator(DagsterDbtTranslator):
    """Sources → the raw (and data-quality) assets; groups by project folder (staging, marts …)."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            # cpin is landed in raw by extract/; other sources (data_quality) keep their own name.
            source = dbt_resource_props["source_name"]
            return dg.AssetKey(["raw" if source == "cpin" else source, dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        """Models and snapshots also wait for the raw gate, i.e. for every raw check of the run."""
        spec = super().get_asset_spec(manifest, unique_id, project)
        if self.get_resource_props(manifest, unique_id)["resource_type"] in ("model", "snapshot"):
            return spec.merge_attributes(deps=[RAW_GATE])
        return spec

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn") or []
        area = fqn[1] if len(fqn) > 2 else dbt_resource_props["resource_type"] + "s"
        return f"dbt_{area}"


PROJECT = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
TRANSLATOR = CwwDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True))


@dbt_assets(manifest=_manifest(), project=PROJECT, dagster_dbt_translator=TRANSLATOR, name="cww_dbt")
def cww_dbt(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, cww_settings: CwwSettingsResource
) -> Iterator[Any]:
    """`dbt build` of the selected nodes against the settings' warehouse, then role passwords."""
    from cww.postgres import resolve_server
    from cww.transform import (
        TEST_SCOPE_KEY,
        dbt_env,
        dbt_vars,
        environment,
        nightly_options,
        nightly_test_scope,
        prepare_warehouse,
        record_tested_batch,
        set_role_passwords,
    )
    from data_quality.expectations.gate import dbt_exclusions

    settings = cww_settings.settings()
    server = resolve_server(settings)
    prepare_warehouse(settings, server)
    # The nightly build: no unit tests (CI runs them), data tests on the rows landed since the last
    # nightly build; incremental models rebuild what the extract batches touched (cww.transform).
    nightly = nightly_options(settings, server)
    args = ["build", *nightly.args, "--vars", json.dumps(dbt_vars(settings, nightly.vars))]
    # Blocking raw checks cannot stop this step (it owns the raw source-test checks), so the gate
    # is dbt's own selection: what reads a table that failed tonight keeps yesterday's state.
    # The raw gate asset makes this step start after the run's raw checks (dagster_project.checks):
    # their results decide; a table whose suite was not part of this run keeps its stored verdict.
    outcomes = raw_check_outcomes(context.op_execution_context)
    with server.connect(settings.warehouse_db) as conn:
        stored = [s for s in dbt_exclusions(conn) if s.split(".", 1)[1].rstrip("+") not in outcomes]
    excluded = sorted(stored + [f"source:cpin.{t}+" for t, passed in outcomes.items() if not passed])
    if excluded:
        context.log.warning(f"blocking raw checks failed; not rebuilding: {' '.join(excluded)}")
        args += ["--exclude", *excluded]
    # Each materialisation carries the scope of this step's tests; the step that completes the
    # build of every node records the mark (so with the split, only the last step does).
    scope = nightly_test_scope(nightly, excluded, reads_landed_rows=_reads_landed_rows(context))
    built: set[dg.AssetKey] = set()
    # The person matcher sits between dbt models, so Dagster runs this op as two steps. With dbt's
    # default `eager` selection the first step would run tests (e.g. singular ones spanning
    # several models) whose other parents only the second step rebuilds; `buildable` runs each
    # test in the step where all its parents are built.
    with environment({**dbt_env(settings), "DBT_INDIRECT_SELECTION": "buildable"}):
        for event in dbt.cli(args, context=context).stream():  # raises when dbt failed
            if isinstance(event, dg.Output):
                built.add(context.asset_key_for_output(event.output_name))
                event = event.with_metadata({**event.metadata, TEST_SCOPE_KEY: scope})
            yield event
    batch = _batch_tested_by_run(context, scope, built)
    if batch is not None:  # every data test ran on the new rows: next night tests newer rows only
        record_tested_batch(settings, replace(nightly, upto_batch=batch), server)
        context.log.info(f"data tests of this run covered batches up to {batch}: mark recorded")
    set_role_passwords(settings)


def _reads_landed_rows(context: dg.AssetExecutionContext) -> bool:
    """Whether this step builds or tests more than the seeds (which read CSV files, not raw)."""
    seeds = {
        key
        for key, spec in cww_dbt.specs_by_key.items()
        if spec.metadata.get("dagster-dbt/materialization_type") == "seed"
    }
    checked = {check.asset_key for check in context.selected_asset_check_keys}
    return not (context.selected_asset_keys | checked) <= seeds


def _batch_tested_by_run(
    context: dg.AssetExecutionContext, scope: dict[str, Any], built: set[dg.AssetKey]
) -> int | None:
    """The batch to record after this step (``cww.transform.batch_tested_by_build``), or None.

    Reads the scope every dbt asset materialised in this run carries from the run's event log,
    this step's own from ``built``. A run that did not select every node (someone building a few
    models by hand), or whose other steps did not all succeed, never records; neither does a
    re-execution, whose earlier steps' materialisations belong to the parent run.
    """
    from cww.transform import TEST_SCOPE_KEY, batch_tested_by_build

    nodes = cww_dbt.keys  # every node, whatever subset this step runs
    selection = context.run.asset_selection  # empty or None: the job's whole selection
    if selection and not nodes <= selection:  # the event log below decides in any case
        return None
    scopes: dict[dg.AssetKey, Any] = {}
    records = context.instance.get_records_for_run(
        run_id=context.run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is not None and event.asset_key in nodes:
            value = event.step_materialization_data.materialization.metadata.get(TEST_SCOPE_KEY)
            scopes[event.asset_key] = value.value if value is not None else None
    scopes.update(dict.fromkeys(built, scope))
    return batch_tested_by_build(nodes, scopes)


defs = dg.Definitions(
    assets=[cww_dbt],
    resources={
        "dbt": DbtCliResource(
            project_dir=PROJECT,
            profiles_dir=str(DBT_PROJECT_DIR),
            # The venv need not be on PATH (STACK.md): use the dbt next to this interpreter.
            dbt_executable=str(Path(sys.executable).with_name("dbt")),
        )
    },
)
