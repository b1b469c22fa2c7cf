"""Data-quality assets: the raw gate and duplicate-person matching. Wiring only (logic:
data_quality.dedupe.warehouse, data_quality.expectations).

``["data_quality", "raw_gate"]`` reads every raw table, so Dagster runs it only after all raw
check steps of the run (their ``gx_blocking`` specs are blocking); the dbt models depend on it,
which is what makes the raw checks run *before* dbt in one run (checks.py explains why dbt needs
this). It records which raw suites failed tonight.

Key ``["data_quality", "person_match"]``: the relation dbt's ``int_persons_mastered`` reads
(``data_quality.person_match``), so a dbt source declared on it links the two automatically.
It runs after the raw person tables land and costs what changed (incremental matching). When a
raw person table failed its blocking suite in this run it holds: no materialisation, yesterday's
master persons stay, and the dbt models reading them are skipped.
"""

from collections.abc import Iterator

import dagster as dg
from dagster import AssetExecutionContext

from dagster_project.checks import RAW_GATE, build_checks, raw_check_outcomes
from dagster_project.resources import RESOURCE_KEY, CwwSettingsResource
from extract.registry import load_registry

GROUP = "data_quality"
PERSON_TABLES = ("person", "person_address", "person_relationship")


@dg.asset(
    key=RAW_GATE,
    group_name=GROUP,
    deps=[dg.AssetKey(["raw", t.name]) for t in load_registry().tables],
    description="Waits for every raw table's checks in the run; dbt builds after it and leaves out "
    "what reads a table that failed its blocking suite.",
    kinds={"python"},
)
def raw_gate(context: AssetExecutionContext) -> dg.MaterializeResult:
    outcomes = raw_check_outcomes(context.op_execution_context)
    failed = sorted(t for t, passed in outcomes.items() if not passed)
    if failed:
        context.log.warning(f"raw tables that failed their blocking suite tonight: {', '.join(failed)}")
    return dg.MaterializeResult(
        metadata={"checked_tables": len(outcomes), "failed_tables": ", ".join(failed) or "none"}
    )


@dg.asset(
    key=dg.AssetKey(["data_quality", "person_match"]),
    group_name=GROUP,
    deps=[RAW_GATE, *(dg.AssetKey(["raw", t]) for t in PERSON_TABLES)],
    required_resource_keys={RESOURCE_KEY},
    output_required=False,
    description="person_id → master_person_id (Splink, incremental) and candidate pairs for review.",
    kinds={"splink", "postgres"},
)
def person_match(context: AssetExecutionContext) -> Iterator[dg.MaterializeResult]:
    from data_quality.dedupe.warehouse import run_matching

    outcomes = raw_check_outcomes(context.op_execution_context)
    failed = [t for t in PERSON_TABLES if outcomes.get(t) is False]
    if failed:
        context.log.warning(
            f"not matching tonight: raw.{', raw.'.join(failed)} failed a blocking check "
            "(yesterday's master persons stay)"
        )
        return
    resource: CwwSettingsResource = getattr(context.resources, RESOURCE_KEY)
    summary = run_matching(resource.settings())
    for line in summary.lines():
        context.log.info(line)
    yield dg.MaterializeResult(
        metadata={
            "mode": summary.mode,
            "persons": summary.persons,
            "new_or_changed": summary.changed,
            "removed": summary.removed,
            "candidate_pairs": summary.pairs,
            "merged_records": summary.merged_records,
            "model_version": summary.model_version,
            "seconds": round(summary.seconds, 2),
        }
    )


# The Great Expectations suites ride along as asset checks on the raw and mart assets (checks.py).
defs = dg.Definitions(assets=[raw_gate, person_match], asset_checks=build_checks())
