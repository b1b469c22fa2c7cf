"""The shipped report definitions against the real dbt-built reporting layer (integration).

Uses the session warehouse dbt builds from hand-made raw rows (conftest ``dbt_hand_warehouse``,
agencies CAS-A and CAS-B, as of 2024-06-30) and dry runs only, so that shared warehouse gets no
delivery log: each per-agency file is produced under the agency login dbt created, and must hold
exactly the rows the view has for that agency when read by the pipeline (which sees all rows).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from cww.postgres import Server
from cww.settings import Settings
from reports.loading import SHIPPED_DIR, load_all
from reports.runner import run_report
from reports.windows import last_complete_window


def _rows(path: str | None) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(Path(path or "").read_bytes().decode("utf-8-sig"))))


def test_shipped_definitions_run_on_the_dbt_reporting_views(
    dbt_hand_warehouse: Settings, pg_server: Server
) -> None:
    settings = dbt_hand_warehouse
    good, bad = load_all(SHIPPED_DIR)
    assert bad == []
    results = {g.definition.name: run_report(settings, g, dry_run=True, server=pg_server) for g in good}

    with pg_server.connect(settings.warehouse_db) as conn:
        as_of = conn.execute("select as_of_date from reporting.as_of_date").fetchone()[0]
        agencies = [r[0] for r in conn.execute("select agency_code from reporting.agency_roles order by 1")]
        in_care = {
            code: sorted(
                str(r[0])
                for r in conn.execute(
                    "select child_id from reporting.children_in_care_current where agency_code = %s", (code,)
                )
            )
            for code in agencies
        }
        month = last_complete_window("0 7 1 * *", as_of)  # as of 2024-06-30: June is complete
        spend = {
            code: conn.execute(
                "select count(*) from reporting.monthly_spend where agency_code = %s "
                "and month >= %s and month < %s",
                (code, month.start, month.end),
            ).fetchone()[0]
            for code in agencies
        }
        indicators = conn.execute("select count(*) from reporting.indicators").fetchone()[0]

    roster = results["children_in_care_roster"]
    assert roster.periods == [as_of.isoformat()]
    assert sorted(o.agency for o in roster.outcomes) == agencies and any(in_care.values())
    for o in roster.outcomes:
        assert o.status == "dry-run"
        assert sorted(r["Child ID"] for r in _rows(o.file)) == in_care[o.agency]

    assert results["monthly_spend_by_category"].periods == [month.period]
    by_agency = {o.agency: o for o in results["monthly_spend_by_category"].outcomes}
    assert set(by_agency) == {*agencies, "PROVINCIAL"}
    for code in agencies:
        rows = _rows(by_agency[code].file)
        assert len(rows) == spend[code] and {r["Agency"] for r in rows} <= {code}
    assert len(_rows(by_agency["PROVINCIAL"].file)) == sum(spend.values())

    (ind,) = results["indicators_monthly"].outcomes
    assert ind.agency == "PROVINCIAL" and len(_rows(ind.file)) == indicators > 0
    assert all(o.status == "dry-run" for o in results["placement_moves_7_days"].outcomes)
    dup = results["duplicates_to_merge"]
    assert dup.skipped or all(o.status == "dry-run" for o in dup.outcomes)
