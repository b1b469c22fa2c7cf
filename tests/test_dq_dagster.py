"""The suites as Dagster asset checks, with real materialisations: a failed blocking check on one
raw table skips what depends on it while an unrelated asset still builds; the night is recorded
for the CSV hold-back; the duplicates-to-merge view and report agree and respect agency RLS; in
one nightly run the raw checks run before dbt, and dbt leaves out only what reads the bad table.

One tiny source per module; extract runs through the real raw asset.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from datetime import date

import dagster as dg
import psycopg
import pytest

from cww.postgres import Server
from cww.settings import Settings, get_settings

AS_OF = date(2025, 6, 30)


@pytest.fixture(scope="module")
def source(module_settings: Settings) -> Iterator[Settings]:
    from simulator.api import init_source

    settings = module_settings
    with pytest.MonkeyPatch.context() as mp:  # Dagster's resource reads the settings from the env
        for name in ("source_db", "warehouse_db", "source_reader_role", "role_prefix", "home"):
            mp.setenv(f"CWW_{name.upper()}", str(getattr(settings, name)))
        get_settings.cache_clear()
        try:
            init_source(settings, "tiny", 11, force=True, as_of=AS_OF)
            yield settings
        finally:
            get_settings.cache_clear()


def test_suites_are_checks_on_raw_marts_and_reporting_assets() -> None:
    from dagster._core.execution.api import create_execution_plan

    from dagster_project.definitions import defs

    graph = defs.get_repository_def().asset_graph
    checks = {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys}
    assert {
        ("raw/payment", "gx_blocking"),
        ("raw/payment", "gx_warnings"),
        ("marts/children_in_care_current", "gx_expectations"),
        ("marts/fct_indicators", "gx_warnings"),
        ("reporting/rpt_children_in_care_current", "gx_blocking"),
        ("reporting/rpt_monthly_spend", "gx_blocking"),
    } <= checks
    job = defs.resolve_job_def("nightly")
    steps = {s.key: s for s in create_execution_plan(job).steps}
    upstream = {
        h.step_key
        for i in steps["data_quality__person_match"].step_inputs
        for h in i.get_step_output_handle_dependencies()
    }
    # the matcher waits for (and is blocked by) the blocking checks of the raw tables it reads
    assert {"gx_raw_person", "gx_raw_person_address", "gx_raw_person_relationship"} <= upstream

    # the raw gate waits for every raw check step; every dbt step that builds models runs after it
    def upstream_of(key: str) -> set[str]:
        direct = {h.step_key for i in steps[key].step_inputs for h in i.get_step_output_handle_dependencies()}
        return direct.union(*(upstream_of(k) for k in direct))

    assert {k for k in steps if k.startswith("gx_raw_")} <= upstream_of("data_quality__raw_gate")
    model_layers = {"staging", "intermediate", "marts", "reporting"}
    # Seeds (code tables, in the nightly job so a first night can build) read no raw table.
    seeds = {k for k in graph.materializable_asset_keys if graph.get(k).group_name == "dbt_seeds"}
    model_steps = [
        k
        for k, step in steps.items()
        if k.startswith("cww_dbt")
        and any(
            o.properties.asset_key
            and o.properties.asset_key.path[0] in model_layers
            and o.properties.asset_key not in seeds
            for o in step.step_outputs
        )
    ]
    assert model_steps
    assert all("data_quality__raw_gate" in upstream_of(k) for k in model_steps), model_steps
    dashboards = {
        h.step_key
        for i in steps["dashboards__superset"].step_inputs
        for h in i.get_step_output_handle_dependencies()
    }
    assert {"gx_marts_children_in_care_current", "gx_marts_fct_payments"} <= dashboards


def test_a_failed_blocking_check_stops_its_downstream_not_unrelated_assets(
    pg_server: Server, source: Settings
) -> None:
    from dagster_project.definitions import defs
    from reports.holdback import blocking_failures

    settings = source
    with pg_server.connect(settings.source_db) as conn:  # a migration blanks 600 addresses tonight
        conn.execute(
            "update cpin.person_address set street = null, postal_code = null where address_id in"
            " (select address_id from cpin.person_address order by address_id limit 600)"
        )
    raw = [dg.AssetKey(["raw", t]) for t in ("person", "person_address", "person_relationship", "payment")]
    matcher = dg.AssetKey(["data_quality", "person_match"])
    staged = dg.AssetKey(["staging", "stg_cpin__payments"])  # downstream of raw.payment only
    seeds = [
        k for k in defs.get_repository_def().asset_graph.get_all_asset_keys() if k.path[-1] == "code_labels"
    ]
    selection = dg.AssetSelection.assets(*raw, matcher, staged, *seeds)
    job = dg.define_asset_job("dq_gate_test", selection=selection, executor_def=dg.in_process_executor)
    test_defs = dg.Definitions.merge(defs, dg.Definitions(jobs=[job]))
    result = test_defs.resolve_job_def("dq_gate_test").execute_in_process(raise_on_error=False)

    materialised = {m.asset_key for m in result.get_asset_materialization_events()}
    checks = {(c.asset_key.to_user_string(), c.check_name): c for c in result.get_asset_check_evaluations()}
    address = checks[("raw/person_address", "gx_blocking")]
    # WARN: the step must not fail, or nothing after it (the gate, dbt) would start; the gating
    # is the matcher's hold and dbt's exclusion (dagster_project.checks)
    assert not address.passed and address.severity == dg.AssetCheckSeverity.WARN
    assert "raw.person_address.street: 600 of" in address.description
    assert "raw.person_address.postal_code: 600 of" in address.description
    assert checks[("raw/payment", "gx_blocking")].passed and checks[("raw/person", "gx_blocking")].passed
    assert set(raw) <= materialised  # the night landed …
    assert matcher not in materialised  # … but the matcher downstream of the bad table did not run
    assert staged in materialised  # while the unrelated staging model still built
    # No step fails: the matcher holds, a subset of the dbt project builds cleanly.
    assert not result.get_step_failure_events()
    with pg_server.connect(settings.warehouse_db) as conn:
        assert conn.execute("select to_regclass('data_quality.master_person')").fetchone()[0] is None
        held = blocking_failures(conn)
    assert [h.split(":")[0] for h in held] == ["dq raw.person_address"]


def test_duplicates_to_merge_view_report_and_agency_separation(pg_server: Server, source: Settings) -> None:
    from cww.security import agency_role, role_password
    from cww.transform import prepare_warehouse, run_dbt, set_role_passwords
    from data_quality.dedupe.warehouse import run_matching
    from extract.api import run_extract
    from reports.loading import load_one
    from reports.runner import run_report

    settings = source
    run_extract(settings)  # the gate test landed only the person and payment tables
    run_matching(settings)
    prepare_warehouse(settings)
    models = "+rpt_duplicates_to_merge +fct_duplicate_rate +agency_roles +dim_agency"
    run_dbt(settings, ["build", "--select", models, "--exclude-resource-type", "test", "unit_test"])
    run_dbt(settings, ["test", "--select", "fct_duplicate_rate fct_duplicates_to_merge"])  # ours only
    set_role_passwords(settings)
    with pg_server.connect(settings.warehouse_db) as conn:
        pairs = conn.execute(
            "select count(*) from data_quality.person_match_pairs where cannot_link is null"
        ).fetchone()[0]
        merged = conn.execute(
            "select count(*) from data_quality.master_person m join raw.person p using (person_id)"
            " where m.master_person_id <> m.person_id and not p._deleted and not p.is_deleted"
        ).fetchone()[0]
        rates = conn.execute(
            "select sum(duplicate_records), sum(person_records) from marts.fct_duplicate_rate"
        ).fetchone()
        cross = conn.execute(
            "select count(*) from marts.fct_duplicates_to_merge where is_other_agency"
        ).fetchone()[0]
        agencies = conn.execute("select agency_id, agency_code from marts.dim_agency").fetchall()
        total = conn.execute("select count(*) from marts.fct_duplicates_to_merge").fetchone()[0]
    assert pairs > 50 and merged > 50
    assert rates[0] == merged  # every merged record is counted once, at its own agency
    assert total == pairs + cross // 2  # a cross-agency pair appears once per agency
    seen = 0
    for agency_id, code in agencies:
        role = agency_role(code, settings.role_prefix)
        with psycopg.connect(
            pg_server.conninfo(settings.warehouse_db, user=role, password=role_password(role))
        ) as c:
            rows = c.execute(
                "select agency_id, match_probability, is_other_agency, duplicate_given_name,"
                " duplicate_birth_date"
                " from reporting.duplicates_to_merge"
            ).fetchall()
        seen += len(rows)
        assert {r[0] for r in rows} <= {agency_id}, code  # RLS: only the agency's own records
        assert [r[1] for r in rows] == sorted((r[1] for r in rows), reverse=True)  # most certain first
        assert all(r[3] is None and r[4] is None for r in rows if r[2])  # no other agency's child's details
    assert seen == total

    # The CSV report reads the view. Tonight's blocking failure (addresses) holds it back first.
    loaded = load_one("duplicates_to_merge")
    held = run_report(settings, loaded, AS_OF, server=pg_server)
    assert held.count("held") == len(agencies)


def test_nightly_checks_raw_tables_before_dbt_and_leaves_out_only_their_dependents(
    pg_server: Server, cww_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One run of the real nightly job on a tiny source whose payment feed is broken tonight."""
    from cww.transform import prepare_warehouse, run_dbt
    from dagster_project.definitions import defs
    from simulator.api import init_source

    settings = cww_settings
    for name in ("source_db", "warehouse_db", "source_reader_role", "role_prefix", "home"):
        monkeypatch.setenv(f"CWW_{name.upper()}", str(getattr(settings, name)))
    get_settings.cache_clear()
    try:
        init_source(settings, "tiny", 5, force=True, as_of=AS_OF)
        prepare_warehouse(settings)  # yesterday's warehouse: the seeds (not downstream of raw) exist
        run_dbt(settings, ["seed"])
        with pg_server.connect(settings.source_db) as conn:  # 40 payments with an undocumented code
            conn.execute(
                "update cpin.payment set category_code = 'XXX' where payment_id in"
                " (select payment_id from cpin.payment order by payment_id limit 40)"
            )
        result = defs.resolve_job_def("nightly").execute_in_process(raise_on_error=False)
    finally:
        get_settings.cache_clear()

    checks = {(c.asset_key.to_user_string(), c.check_name): c for c in result.get_asset_check_evaluations()}
    payment = checks[("raw/payment", "gx_blocking")]
    assert not payment.passed and "raw.payment.category_code" in payment.description
    # the nightly job checks in nightly mode; a first night has no accepted run, so every live row
    assert payment.metadata["mode"].value == "nightly"
    assert "live rows (no accepted run yet)" in payment.metadata["rows_checked"].value
    assert checks[("raw/person_address", "gx_blocking")].passed

    materialised = {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()}
    # what reads raw.payment keeps yesterday's state (here: none) …
    for dependent in ("staging/stg_cpin__payments", "marts/fct_payments", "marts/fct_spend_monthly"):
        assert dependent not in materialised, dependent
    # … while unrelated models and the matcher are built in the same run. (Not more: the as-of date
    # model reads every raw table, so nearly every mart depends on raw.payment; and the dbt step
    # after the matcher is skipped as a whole once one of its inputs was left out.)
    for unrelated in (
        "staging/stg_cpin__persons",
        "staging/stg_cpin__cases",
        "staging/stg_cpin__placements",
        "data_quality/person_match",
    ):
        assert unrelated in materialised, unrelated
    # the failed check's step itself succeeded (WARN): nothing after it was abandoned
    assert "gx_raw_payment" in {e.step_key for e in result.get_step_success_events()}
    with pg_server.connect(settings.warehouse_db) as conn:
        assert conn.execute("select to_regclass('marts.fct_payments')").fetchone()[0] is None
        assert conn.execute("select count(*) from staging.stg_cpin__placements").fetchone()[0] > 0

    # the check's result comes before every dbt step that builds models starts
    events = result.all_events
    check_at = next(
        i
        for i, e in enumerate(events)
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        and e.asset_check_evaluation_data.asset_key == dg.AssetKey(["raw", "payment"])
        and e.asset_check_evaluation_data.check_name == "gx_blocking"
    )
    from dagster_project.definitions import defs

    graph = defs.get_repository_def().asset_graph
    seeds = {k for k in graph.materializable_asset_keys if graph.get(k).group_name == "dbt_seeds"}
    model_steps = {  # seeds read no raw table: their step need not wait
        e.step_key
        for e in result.get_asset_materialization_events()
        if e.step_key.startswith("cww_dbt")
        and e.asset_key.path[0] in ("staging", "intermediate", "marts")
        and e.asset_key not in seeds
    }
    assert model_steps
    starts = {e.step_key: i for i, e in enumerate(events) if e.event_type == dg.DagsterEventType.STEP_START}
    assert all(check_at < starts[k] for k in model_steps), (check_at, {k: starts[k] for k in model_steps})


class FlakyProxy:
    """A TCP relay to the real server that cuts the first ``drop`` connections it accepts: to a
    client that is a server going away mid-handshake, as during a restart."""

    def __init__(self, host: str, port: int, drop: int = 1) -> None:
        self.target = (host, port)
        self.drop = drop
        self.dropped = 0
        self.relayed = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed
                return
            if self.dropped < self.drop:
                self.dropped += 1
                client.close()
                continue
            self.relayed += 1
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._listener.close()


def test_a_check_step_that_loses_the_warehouse_retries_and_passes(
    pg_server: Server, source: Settings
) -> None:
    """The warehouse drops the check's first connection (a restart): the step is retried after its
    pause and the suite's results land; an error that is not a lost connection is not retried."""
    from sqlalchemy.engine import make_url

    from dagster_project.checks import build_suite_check
    from dagster_project.resources import RESOURCE_KEY, CwwSettingsResource
    from extract.api import run_extract

    assert not [t.table for t in run_extract(source).tables if t.status != "ok"]
    url = make_url(pg_server.url)
    proxy = FlakyProxy(url.host or "127.0.0.1", url.port or 5432, drop=1)
    try:
        through_proxy = source.model_copy(
            update={
                "pg_url": url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
            }
        )
        check = build_suite_check("raw.agency", ("raw", "agency"), retry_seconds=0.2)
        job = dg.define_asset_job(
            "flaky_check", selection=dg.AssetSelection.checks(check), executor_def=dg.in_process_executor
        )
        defs = dg.Definitions(
            assets=[dg.AssetSpec(["raw", "agency"])],
            asset_checks=[check],
            jobs=[job],
            resources={RESOURCE_KEY: CwwSettingsResource.from_settings(through_proxy)},
        )
        result = defs.resolve_job_def("flaky_check").execute_in_process(raise_on_error=False)
    finally:
        proxy.close()
    retried = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert result.success and len(retried) == 1, [e.message for e in result.all_events if e.is_failure]
    assert proxy.dropped == 1 and proxy.relayed >= 1
    (evaluation,) = [c for c in result.get_asset_check_evaluations() if c.check_name == "gx_blocking"]
    assert evaluation.passed and evaluation.asset_key == dg.AssetKey(["raw", "agency"])
    with pg_server.connect(source.warehouse_db) as conn:
        recorded = conn.execute(
            "select count(*) from dq.expectation_result where suite = 'raw.agency' and run_id = %s",
            (evaluation.metadata["dq_run_id"].value,),
        ).fetchone()[0]
    assert recorded > 0

    # A broken setting is not a lost connection: it fails at once, with no retry.
    wrong_db = source.model_copy(update={"warehouse_db": f"{source.warehouse_db}_missing"})
    defs = dg.Definitions(
        assets=[dg.AssetSpec(["raw", "agency"])],
        asset_checks=[check],
        jobs=[job],
        resources={RESOURCE_KEY: CwwSettingsResource.from_settings(wrong_db)},
    )
    result = defs.resolve_job_def("flaky_check").execute_in_process(raise_on_error=False)
    assert not result.success
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
