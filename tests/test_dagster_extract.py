"""Dagster wiring of the extraction, with real materialisations against real PostgreSQL."""

import socket
import uuid
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from aiosmtpd.controller import Controller

from cww.postgres import Server, create_database, drop_database
from cww.settings import Settings
from dagster_project.assets.raw import build_raw_tables
from dagster_project.definitions import defs
from dagster_project.instance import write_instance_config
from dagster_project.resources import RESOURCE_KEY, CwwSettingsResource
from dagster_project.sensors import nightly_failure_recorder
from extract.api import reconcile
from extract.registry import load_registry

FAST_RETRY = dg.RetryPolicy(max_retries=2, delay=0.05, backoff=dg.Backoff.EXPONENTIAL)


def _resources(s: Settings) -> dict[str, object]:
    return {RESOURCE_KEY: CwwSettingsResource.from_settings(s)}


def _test_defs(s: Settings, retry: dg.RetryPolicy = FAST_RETRY) -> dg.Definitions:
    """The nightly job over the raw assets only (the real job also pulls in dbt etc. when present)."""
    job = dg.define_asset_job(
        "nightly", selection=dg.AssetSelection.groups("raw"), executor_def=dg.in_process_executor
    )
    return dg.Definitions(assets=[build_raw_tables(retry)], jobs=[job], resources=_resources(s))


def test_definitions_wire_every_registry_table_nightly_schedule_and_sensor() -> None:
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {f"raw/{t.name}" for t in load_registry().tables} <= keys
    job = defs.resolve_job_def("nightly")
    assert job.executor_def is dg.in_process_executor
    schedule = defs.resolve_schedule_def("nightly_0200_toronto")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 2 * * *", "America/Toronto")
    assert schedule.job_name == "nightly"
    sensor = defs.resolve_sensor_def("nightly_failure_recorder")
    assert sensor.name == "nightly_failure_recorder"
    policy = next(a for a in defs.resolve_all_asset_specs() if a.key == dg.AssetKey(["raw", "person"]))
    assert policy.group_name == "raw"
    raw = next(a for a in defs.resolve_asset_graph().assets_defs if dg.AssetKey(["raw", "person"]) in a.keys)
    assert raw.op.retry_policy.backoff == dg.Backoff.EXPONENTIAL and raw.op.retry_policy.max_retries >= 2


def test_nightly_job_materialises_raw_tables_and_a_subset(
    pg_server: Server, extract_source: Settings
) -> None:
    s = extract_source
    instance = dg.DagsterInstance.ephemeral()
    result = _test_defs(s).resolve_job_def("nightly").execute_in_process(instance=instance)
    assert result.success
    mats = {m.asset_key.path[-1]: m for m in result.asset_materializations_for_node("raw_tables")}
    assert set(mats) == {t.name for t in load_registry().tables}
    assert mats["person"].metadata["inserted"].value == 4
    assert mats["case_participant"].metadata["inserted"].value == 3
    assert reconcile(s).ok
    with pg_server.connect(s.source_db) as conn:
        conn.execute(
            "update cpin.person set surname = 'Roy', updated_at = '2026-02-01 00:00+00' "
            "where person_id = 1002"
        )
    sub = dg.materialize(
        [build_raw_tables(FAST_RETRY)], selection=["raw/person"], resources=_resources(s), instance=instance
    )
    assert sub.success
    (only,) = sub.asset_materializations_for_node("raw_tables")
    assert only.asset_key == dg.AssetKey(["raw", "person"]) and only.metadata["updated"].value == 1
    with pg_server.connect(s.warehouse_db) as conn:
        assert conn.execute("select surname from raw.person where person_id = 1002").fetchone() == ("Roy",)


def test_a_drifted_table_fails_without_retry_while_the_others_materialise(
    pg_server: Server, extract_source: Settings
) -> None:
    s = extract_source
    dg.materialize([build_raw_tables(FAST_RETRY)], resources=_resources(s))
    with pg_server.connect(s.source_db) as conn:
        conn.execute("alter table cpin.worker alter column hired_on type text")  # date → text: not a widening
    result = dg.materialize([build_raw_tables(FAST_RETRY)], resources=_resources(s), raise_on_error=False)
    assert not result.success
    landed = {m.asset_key.path[-1] for m in result.asset_materializations_for_node("raw_tables")}
    assert "person" in landed and "worker" not in landed
    retries = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    assert retries == []  # drift cannot be fixed by trying again
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert "hired_on" in failure.step_failure_data.error.message


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append((list(envelope.rcpt_tos), envelope.content.decode()))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_source_is_retried_with_backoff_then_recorded_and_emailed(
    pg_server: Server, extract_source: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = extract_source
    monkeypatch.setenv("CWW_EXTRACT_SOURCE_PG_URL", "postgresql://127.0.0.1:1")
    monkeypatch.setenv("CWW_EXTRACT_CONNECT_ATTEMPTS", "1")
    instance = dg.DagsterInstance.ephemeral()
    result = (
        _test_defs(s).resolve_job_def("nightly").execute_in_process(instance=instance, raise_on_error=False)
    )
    assert not result.success
    retries = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    assert len(retries) == 2  # FAST_RETRY.max_retries
    with pg_server.connect(s.warehouse_db) as conn:
        assert conn.execute("select count(*) from extract_meta.watermarks").fetchone() == (0,)

    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        monkeypatch.setenv("CWW_ALERT_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("CWW_ALERT_SMTP_PORT", str(port))
        monkeypatch.setenv("CWW_ALERT_EMAIL_TO", "data-team@example.org")
        context = dg.build_run_status_sensor_context(
            sensor_name="nightly_failure_recorder",
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            dagster_event=result.get_run_failure_event(),
            resources=_resources(s),
        ).for_run_failure()
        nightly_failure_recorder(context)
        nightly_failure_recorder(context)  # a second look at the same failure records nothing new
    finally:
        controller.stop()
    with pg_server.connect(s.warehouse_db) as conn:
        rows = conn.execute(
            "select run_id, job_name, steps, error, emailed_to from extract_meta.pipeline_failures"
        ).fetchall()
    assert len(rows) == 1
    run_id, job, steps, error, emailed = rows[0]
    assert (run_id, job, emailed) == (result.run_id, "nightly", "data-team@example.org")
    assert steps == ["raw_tables"] and "cannot reach the source" in error
    assert len(inbox.messages) == 1
    assert inbox.messages[0][0] == ["data-team@example.org"] and result.run_id in inbox.messages[0][1]


def test_instance_config_uses_postgres_when_configured(
    pg_server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = write_instance_config(home=tmp_path / "local")
    assert "postgres" not in (local / "dagster.yaml").read_text()

    db = f"cwwt_{uuid.uuid4().hex[:8]}_dagster"
    create_database(pg_server, db)
    try:
        url = pg_server.sqlalchemy_url(db, "psycopg2").replace("postgresql+psycopg2", "postgresql")
        monkeypatch.setenv("CWW_DAGSTER_PG", url)
        home = write_instance_config(home=tmp_path / "pg")
        text = (home / "dagster.yaml").read_text()
        assert "env: CWW_DAGSTER_PG" in text and url not in text  # the URL stays in the environment

        @dg.asset
        def probe() -> int:
            return 1

        with dg.DagsterInstance.from_config(str(home)) as instance:
            result = dg.materialize([probe], instance=instance)
            assert result.success
        with psycopg.connect(pg_server.conninfo(db)) as conn:
            assert conn.execute(
                "select count(*) from runs where run_id = %s", (result.run_id,)
            ).fetchone() == (1,)
    finally:
        drop_database(pg_server, db)
