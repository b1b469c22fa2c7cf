"""Reports to a folder against a real warehouse with row-level security by agency login.

The warehouse is the synthetic reporting layer (reports/synthetic.py): per-agency LOGIN roles,
a mapping table, RLS on the base table and a security_invoker view — the same mechanism as dbt's
reporting schema — so these tests prove the per-agency file holds exactly that agency's rows.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import psycopg
import pytest

from cww.postgres import Server, create_database
from cww.security import agency_role, role_password
from cww.settings import Settings
from reports import synthetic
from reports.holdback import record_check
from reports.loading import load_one
from reports.runner import run_many, run_report

DAY = date(2026, 11, 3)
CODES = ["CAS-OTT", "CAS-TOR", "CAS-SUD"]


@pytest.fixture
def warehouse(cww_settings: Settings, pg_server: Server) -> Settings:
    create_database(pg_server, cww_settings.warehouse_db)
    synthetic.build(pg_server, cww_settings, CODES, children_per_agency=20)
    return cww_settings


def write_def(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(text)


def folder_dest(path: Path, **extra: str) -> str:
    lines = f'  - id: share\n    type: folder\n    path: "{path}/{{agency}}"\n'
    return lines + "".join(f"    {k}: {v}\n" for k, v in extra.items())


def expected_ids(server: Server, settings: Settings, code: str) -> list[int]:
    with server.connect(settings.warehouse_db) as conn:
        return [
            r[0]
            for r in conn.execute(
                "select child_id from synthetic.roster where agency_code = %s order by child_id", (code,)
            )
        ]


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))


def log_rows(server: Server, settings: Settings) -> list[tuple]:
    with server.connect(settings.warehouse_db) as conn:
        return conn.execute(
            "select agency, destination, status, attempts, row_count from reports.delivery_log "
            "order by agency"
        ).fetchall()


def test_per_agency_files_hold_only_their_rows_and_rerun_sends_nothing(
    warehouse: Settings, pg_server: Server, tmp_path: Path
) -> None:
    defs, out = tmp_path / "defs", tmp_path / "share"
    write_def(defs, "roster", synthetic.definition_yaml("roster", folder_dest(out)))
    loaded = load_one("roster", defs)

    result = run_report(warehouse, loaded, DAY, server=pg_server)
    assert result.count("delivered") == 3 and not result.problems

    for code in CODES:
        path = out / code / f"roster_{code}_2026-11-03.csv"
        raw = path.read_bytes()
        assert raw.startswith(b"Child ID,Child,Agency,")  # header, no BOM by default
        assert b"\r\n" in raw  # CRLF by default
        rows = read_csv(path)
        assert [int(r["Child ID"]) for r in rows] == expected_ids(pg_server, warehouse, code)
        assert {r["Agency"] for r in rows} == {code}
        assert rows[0]["Placement start"].count("-") == 2 and rows[0]["Visit overdue"] in {"yes", "no"}
    # quoting survives a round trip: names with commas, apostrophes and accents
    names = [r["Child"] for r in read_csv(out / "CAS-OTT" / "roster_CAS-OTT_2026-11-03.csv")]
    assert "O'Brien, Zoë 7" in names

    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.csv")}
    again = run_report(warehouse, loaded, DAY, server=pg_server)
    assert again.count("already-delivered") == 3 and again.count("delivered") == 0
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.csv")} == before
    assert [(a, s, n, c) for a, _d, s, n, c in log_rows(pg_server, warehouse)] == [
        ("CAS-OTT", "delivered", 1, 20),
        ("CAS-SUD", "delivered", 1, 20),
        ("CAS-TOR", "delivered", 1, 20),
    ]


def test_agency_login_sees_only_its_rows(warehouse: Settings, pg_server: Server) -> None:
    """The mechanism itself: the view under an agency's login returns that agency's rows only."""
    role = agency_role("CAS-TOR", warehouse.role_prefix)
    conninfo = pg_server.conninfo(warehouse.warehouse_db, user=role, password=role_password(role))
    with psycopg.connect(conninfo) as conn:
        codes = conn.execute("select distinct agency_code from reporting.synthetic_roster").fetchall()
        assert codes == [("CAS-TOR",)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select * from reporting.synthetic_totals")


def test_hold_back_on_failed_blocking_check_then_send_when_clean(
    warehouse: Settings, pg_server: Server, tmp_path: Path
) -> None:
    defs, out = tmp_path / "defs", tmp_path / "share"
    write_def(defs, "roster", synthetic.definition_yaml("roster", folder_dest(out)))
    loaded = load_one("roster", defs)
    run_report(warehouse, loaded, date(2026, 11, 1), server=pg_server)  # creates the log + hook table
    with pg_server.connect(warehouse.warehouse_db) as conn:
        record_check(conn, DAY, "placements_have_one_open_per_child", False, "17 children with 2 open")
        record_check(conn, DAY, "payments_reconcile", True)

    held = run_report(warehouse, loaded, DAY, server=pg_server)
    assert held.count("held") == 3
    assert "placements_have_one_open_per_child: 17 children with 2 open" in held.outcomes[0].detail
    assert not list(out.rglob("roster_*_2026-11-03.csv"))

    with pg_server.connect(warehouse.warehouse_db) as conn:  # data fixed, check re-run passes
        record_check(conn, DAY, "placements_have_one_open_per_child", True)
    later = run_report(warehouse, loaded, date(2026, 11, 4), server=pg_server)
    # the held night goes out with the next run, and so does the new one
    assert later.periods == ["2026-11-03", "2026-11-04"]
    assert later.count("delivered") == 6
    assert len(list(out.rglob("roster_*_2026-11-03.csv"))) == 3


def test_bad_definitions_are_named_and_others_still_run(
    warehouse: Settings, pg_server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    defs, out = tmp_path / "defs", tmp_path / "share"
    write_def(defs, "good", synthetic.definition_yaml("good", folder_dest(out)))
    write_def(defs, "no_view", synthetic.definition_yaml("no_view", folder_dest(out), view="reporting.nope"))
    write_def(defs, "bad_cron", synthetic.definition_yaml("bad_cron", folder_dest(out), schedule="0 6 * *"))
    monkeypatch.delenv("CWW_TEST_MISSING_PW", raising=False)
    mail = (
        "  - type: email\n    to: [x@cas.example]\n    from: r@cww.example\n    smtp_host: 127.0.0.1\n"
        "    username_env: CWW_TEST_MISSING_PW\n    password_env: CWW_TEST_MISSING_PW\n"
    )
    write_def(defs, "no_secret", synthetic.definition_yaml("no_secret", mail))

    batch = run_many(warehouse, day=DAY, directory=defs, server=pg_server)
    assert [r.report for r in batch.results] == ["good"]
    assert batch.results[0].count("delivered") == 3
    problems = "\n".join(batch.problems)
    assert len(batch.problems) == 3, problems
    assert "bad_cron.yaml:17 schedule: schedule '0 6 * *' must have 5 fields" in problems
    assert "no_view.yaml:4 view: reporting.nope does not exist in the warehouse" in problems
    assert (
        "no_secret.yaml:24 destinations[0].username_env: environment variable CWW_TEST_MISSING_PW" in problems
    )


def test_optional_report_without_its_view_is_skipped(
    warehouse: Settings, pg_server: Server, tmp_path: Path
) -> None:
    defs, out = tmp_path / "defs", tmp_path / "share"
    text = synthetic.definition_yaml(
        "later", folder_dest(out), view="reporting.duplicates_to_merge", extra="optional: true\n"
    )
    write_def(defs, "later", text)
    result = run_report(warehouse, load_one("later", defs), DAY, server=pg_server)
    assert result.skipped and "reporting.duplicates_to_merge does not exist yet" in result.skipped
    assert result.outcomes == [] and not out.exists()


def test_dry_run_produces_files_and_logs_nothing(
    warehouse: Settings, pg_server: Server, tmp_path: Path
) -> None:
    defs, out = tmp_path / "defs", tmp_path / "share"
    write_def(
        defs, "roster", synthetic.definition_yaml("roster", folder_dest(out, bom="true", line_ending="lf"))
    )
    result = run_report(
        warehouse, load_one("roster", defs), DAY, agency="CAS-SUD", dry_run=True, server=pg_server
    )
    assert [o.status for o in result.outcomes] == ["dry-run"]
    produced = Path(result.outcomes[0].file or "")
    data = produced.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfChild ID,") and b"\r\n" not in data  # the destination's variant
    assert len(read_csv(produced)) == 20
    assert not out.exists()
    with pg_server.connect(warehouse.warehouse_db) as conn:
        assert conn.execute("select to_regclass('reports.delivery_log')").fetchone() == (None,)


def test_provincial_file_under_the_analyst_login(
    warehouse: Settings, pg_server: Server, tmp_path: Path
) -> None:
    defs, out = tmp_path / "defs", tmp_path / "share"
    text = f"""\
name: totals
title: Totals
view: {synthetic.PROVINCIAL_VIEW}
columns:
  - {{column: agency_code, heading: Agency}}
  - {{column: children, heading: Children}}
  - {{column: per_diem_total, heading: Per diem total}}
sort: [{{column: agency_code}}]
split: [provincial]
schedule: "0 7 1 * *"
destinations:
{folder_dest(out)}"""
    write_def(defs, "totals", text)
    result = run_report(warehouse, load_one("totals", defs), DAY, server=pg_server)
    assert [(o.agency, o.status, o.period) for o in result.outcomes] == [
        ("PROVINCIAL", "delivered", "2026-11-01")
    ]
    rows = read_csv(out / "PROVINCIAL" / "totals_PROVINCIAL_2026-11-01.csv")
    assert [(r["Agency"], r["Children"]) for r in rows] == [(c, "20") for c in sorted(CODES)]
    assert rows[0]["Per diem total"].endswith(".00") or "." in rows[0]["Per diem total"]


def test_demo_step_delivers_to_the_local_folder_once(
    warehouse: Settings, pg_server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reports.demo import demo_reports
    from reports.loading import DIR_ENV

    defs = tmp_path / "defs"
    write_def(defs, "roster", synthetic.definition_yaml("roster", folder_dest(Path("{home}") / "reports")))
    monkeypatch.setenv(DIR_ENV, str(defs))
    first = demo_reports(warehouse)
    assert any("3 delivered" in line for line in first), first
    assert f"3 CSV files in {warehouse.home / 'reports'}:" in first
    second = demo_reports(warehouse)
    assert any("3 already-delivered" in line for line in second), second


def test_cli_validate_names_bad_files_and_exits_2(
    warehouse: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from reports.cli import app
    from reports.loading import DIR_ENV

    defs = tmp_path / "defs"
    write_def(defs, "good", synthetic.definition_yaml("good", folder_dest(tmp_path)))
    write_def(
        defs, "no_view", synthetic.definition_yaml("no_view", folder_dest(tmp_path), view="reporting.nope")
    )
    monkeypatch.setenv(DIR_ENV, str(defs))
    for key, value in (("CWW_PG_URL", warehouse.pg_url), ("CWW_WAREHOUSE_DB", warehouse.warehouse_db)):
        monkeypatch.setenv(key, str(value))
    from cww.settings import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["validate"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "no_view.yaml:4 view: reporting.nope does not exist" in result.output.replace("\n", "")
