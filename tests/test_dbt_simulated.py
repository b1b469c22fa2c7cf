"""End to end on the simulator's tiny preset: simulate → extract → dbt build, then one simulated
day → extract → incremental dbt build. The marts are checked against the source database itself
(computed independently in SQL), under each agency's own login."""

from __future__ import annotations

from datetime import date

import psycopg
import pytest

from cww.postgres import Server
from cww.security import agency_role, role_password
from cww.settings import Settings
from cww.transform import build

AS_OF = date(2025, 6, 30)

IN_CARE_SQL = """
select p.agency_id, count(distinct p.person_id)
from cpin.placement p
where not p.is_deleted and p.start_date <= %(d)s and (p.end_date is null or p.end_date > %(d)s)
group by 1 order by 1
"""


def source_counts(server: Server, settings: Settings, day: date) -> dict[int, int]:
    with server.connect(settings.source_db) as conn:
        return dict(conn.execute(IN_CARE_SQL, {"d": day}).fetchall())


def check_against_source(server: Server, settings: Settings) -> date:
    with server.connect(settings.warehouse_db) as conn:
        as_of = conn.execute("select as_of_date from intermediate.int_as_of_date").fetchone()[0]
        mart = dict(
            conn.execute(
                "select agency_id, count(*) from marts.children_in_care_current group by 1 order by 1"
            ).fetchall()
        )
        agencies = conn.execute("select agency_id, agency_code from marts.dim_agency").fetchall()
    expected = source_counts(server, settings, as_of)
    assert mart == expected and sum(expected.values()) > 20
    # Each agency's login sees exactly its own children, nobody else's.
    for agency_id, code in agencies:
        role = agency_role(code, settings.role_prefix)
        info = server.conninfo(settings.warehouse_db, user=role, password=role_password(role))
        with psycopg.connect(info) as conn:
            got = conn.execute(
                "select count(*), count(*) filter (where agency_id <> %s)"
                " from reporting.children_in_care_current",
                (agency_id,),
            ).fetchone()
        assert got == (expected.get(agency_id, 0), 0), code
    return as_of


@pytest.mark.slow
def test_simulated_nightly_runs_match_the_source(pg_server: Server, cww_settings: Settings) -> None:
    from extract.api import run_extract
    from simulator.api import advance, init_source

    settings = cww_settings
    init_source(settings, "tiny", 11, force=True, as_of=AS_OF)
    run_extract(settings)
    first = build(settings)
    assert first.failures == []
    as_of = check_against_source(pg_server, settings)
    assert as_of == AS_OF

    advance(settings, 1)
    run_extract(settings)
    build(settings)
    assert check_against_source(pg_server, settings) == date(2025, 7, 1)
    with pg_server.connect(settings.warehouse_db) as conn:
        days = conn.execute(
            "select count(*) from marts.fct_children_in_care_daily where care_date = '2025-07-01'"
        ).fetchone()[0]
        indicators = conn.execute(
            "select count(distinct geography_code) from marts.fct_indicators where fiscal_year = 2024"
        ).fetchone()[0]
    assert days == sum(source_counts(pg_server, settings, date(2025, 7, 1)).values())
    assert indicators >= 2  # the agencies with entries that year, and the province
