"""Report deliveries as Dagster assets: partition = period, schedule launches the period just ended,
a materialization delivers through the same log as the CLI, and exhausted retries fail the run."""

from __future__ import annotations

import datetime as dt
import socket
from pathlib import Path

import dagster as dg
import pytest

from cww.postgres import Server, create_database
from cww.settings import Settings
from dagster_project.assets.reports import build_defs
from reports import synthetic
from reports.windows import TZ

CODES = ["CAS-OTT", "CAS-TOR"]


@pytest.fixture
def warehouse(cww_settings: Settings, pg_server: Server) -> Settings:
    create_database(pg_server, cww_settings.warehouse_db)
    synthetic.build(pg_server, cww_settings, CODES, children_per_agency=10)
    return cww_settings


def test_schedule_launches_the_period_that_just_ended(tmp_path: Path) -> None:
    (tmp_path / "roster.yaml").write_text(
        synthetic.definition_yaml("roster", f'  - type: folder\n    path: "{tmp_path}/out"\n')
    )
    defs = build_defs(tmp_path)
    schedule = defs.get_schedule_def("reports_daily_0_6_schedule")
    assert schedule.cron_schedule == "0 6 * * *" and schedule.execution_timezone == "America/Toronto"
    tick = dt.datetime(2026, 11, 4, 6, 0, tzinfo=TZ)
    with dg.build_schedule_context(scheduled_execution_time=tick) as ctx:
        requests = schedule.evaluate_tick(ctx).run_requests
    assert [r.partition_key for r in requests or []] == ["2026-11-03"]


def test_materialize_partition_delivers_and_exhausted_retries_fail(
    warehouse: Settings, pg_server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    defs_dir, out = tmp_path / "defs", tmp_path / "out"
    defs_dir.mkdir()
    (defs_dir / "roster.yaml").write_text(
        synthetic.definition_yaml(
            "roster", f'  - id: share\n    type: folder\n    path: "{out}/{{agency}}"\n'
        )
    )
    with socket.socket() as s:  # a port nobody listens on: SMTP "down"
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    mail = (
        "  - id: mail\n    type: email\n    to: [x@cas.example]\n    from: r@cww.example\n"
        f"    smtp_host: 127.0.0.1\n    smtp_port: {dead_port}\n    timeout_seconds: 2\n"
    )
    (defs_dir / "mailed.yaml").write_text(
        synthetic.definition_yaml("mailed", mail).replace("max_attempts: 3", "max_attempts: 1")
    )
    defs = build_defs(defs_dir, settings_factory=lambda: warehouse)
    roster = defs.get_assets_def(dg.AssetKey(["reports", "roster"]))
    result = dg.materialize([roster], partition_key="2026-11-03")
    assert result.success
    meta = result.asset_materializations_for_node(roster.op.name)[0].metadata
    assert meta["delivered"].value == 2 and meta["rows"].value == 20
    assert sorted(p.name for p in out.rglob("*.csv")) == [f"roster_{c}_2026-11-03.csv" for c in CODES]

    mailed = defs.get_assets_def(dg.AssetKey(["reports", "mailed"]))
    failed = dg.materialize([mailed], partition_key="2026-11-03", raise_on_error=False)
    assert not failed.success
    failure = next(e for e in failed.all_events if e.event_type_value == "STEP_FAILURE")
    assert "exhausted" in str(failure.event_specific_data.error)
