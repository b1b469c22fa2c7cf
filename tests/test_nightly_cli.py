"""`cww nightly` end to end on the simulator's tiny preset: an initial full build, one simulated day,
then the nightly CLI as a real subprocess — raw must equal the source (reconcile), the marts must
hold the new day, and the day's CSV files must be delivered; a broken stage must stop its
dependents and exit non-zero naming it."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cww.postgres import Server
from cww.settings import Settings

AS_OF = dt.date(2025, 6, 30)
CWW = str(Path(sys.executable).with_name("cww"))


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    return {**os.environ, **settings.as_env(), **extra}


@pytest.fixture(scope="module")
def built(module_settings: Settings) -> Settings:
    """Tiny source, the initial full build (in-process, same library), then one simulated day."""
    from cww.nightly import run_nightly
    from simulator.api import advance, init_source

    init_source(module_settings, "tiny", seed=42, force=True, as_of=AS_OF)
    first = run_nightly(module_settings, full=True, echo=False)
    assert first.ok, first.errors()
    advance(module_settings, 1)
    return module_settings


def test_nightly_after_a_day_lands_rebuilds_and_delivers(
    pg_server: Server, built: Settings, tmp_path: Path
) -> None:
    from extract.api import reconcile

    s = built
    day = AS_OF + dt.timedelta(days=1)
    report = tmp_path / "nightly.json"
    proc = subprocess.run(
        [CWW, "nightly", "--json", str(report)], env=_env(s), capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    stages = {st["name"]: st for st in json.loads(report.read_text())["stages"]}
    assert [n for n, st in stages.items() if st["status"] != "ok"] == []
    assert stages["extract"]["rows"] > 0  # the day's inserts and updates landed
    assert stages["match"]["rows_label"] == "new/changed persons"  # incremental, not a full re-match
    # raw checks in nightly mode: row checks on the day's rows only, after the full build's batch
    raw = stages["checks_raw"]
    assert raw["detail"].startswith("nightly run:") and "new raw rows since batch 1 " in raw["detail"]
    assert raw["rows_label"] == "new rows validated" and 0 < raw["rows"] <= stages["extract"]["rows"]
    assert "dbt build" in stages["dbt"]["detail"] and "--full-refresh" not in stages["dbt"]["detail"]

    # raw = source, row for row
    rec = reconcile(s)
    assert rec.ok, [d.describe() for d in rec.tables if not d.ok]

    with pg_server.connect(s.warehouse_db) as wh, pg_server.connect(s.source_db) as src:
        assert wh.execute("select max(as_of_date) from reporting.as_of_date").fetchone()[0] == day
        assert (
            wh.execute(
                "select count(*) from marts.fct_children_in_care_daily where care_date = %s", (day,)
            ).fetchone()[0]
            > 0
        )
        new_placements = {
            r[0]
            for r in src.execute(
                "select placement_id from cpin.placement where created_at::date = %s and not is_deleted",
                (day,),
            )
        }
        in_marts = {
            r[0]
            for r in wh.execute(
                "select placement_id from marts.fct_placements where placement_id = any(%s)",
                (list(new_placements),),
            )
        }
        assert in_marts == new_placements
        in_care = dict(
            wh.execute(
                "select agency_code, count(*) from marts.children_in_care_current group by 1"
            ).fetchall()
        )
        delivered = dict(
            wh.execute(
                "select agency, row_count from reports.delivery_log"
                " where report = 'children_in_care_roster' and period = %s and status = 'delivered'",
                (day,),
            ).fetchall()
        )
    assert delivered == in_care  # one roster per agency, every child in care, nothing else
    for agency in in_care:
        path = s.home / "reports" / agency / f"children_in_care_roster_{agency}_{day}.csv"
        assert path.exists(), path
        assert len(path.read_text(encoding="utf-8-sig").splitlines()) == in_care[agency] + 1


def test_a_failed_stage_skips_its_dependents_and_exits_non_zero(built: Settings) -> None:
    s = built
    proc = subprocess.run(
        [CWW, "nightly"],
        # the server trusts local logins, so break the source with a login that does not exist
        env=_env(
            s, CWW_SOURCE_READER_ROLE=f"{s.role_prefix}_no_such_login", CWW_EXTRACT_CONNECT_ATTEMPTS="1"
        ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "nightly stage extract failed" in errors[0], proc.stderr[-2000:]
    for stage in ("checks_raw", "match", "dbt", "reports"):
        assert any(f"↷ {stage}" in line and "skipped" in line for line in proc.stderr.splitlines()), stage
    assert "▶ dbt" not in proc.stderr
