"""Holding back reports for a night whose blocking data-quality checks failed.

The hook between data quality and deliveries is one table, ``reports.dq_blocking``: the
data-quality runner (data_quality/) records each *blocking* check of a night with
``record_check(...)``; a report run looks at the latest night recorded and holds every delivery
while any blocking check of that night failed (the reports read the warehouse's current state,
which is that night's load). With no rows at all — data quality not wired in yet — nothing is held.
Held deliveries are logged as ``held`` and sent by the first run after the checks pass.
"""

from __future__ import annotations

from datetime import date

import psycopg

HOOK_SQL = """
create table if not exists reports.dq_blocking (
    as_of_date  date not null,          -- the night (warehouse as-of date) the check ran for
    check_name  text not null,
    passed      boolean not null,
    detail      text,
    checked_at  timestamptz not null default clock_timestamp(),
    primary key (as_of_date, check_name, checked_at)
);
"""


def record_check(
    conn: psycopg.Connection, as_of: date, check_name: str, passed: bool, detail: str = ""
) -> None:
    """Called by data quality for every blocking check; the latest result per check counts."""
    conn.execute(
        "insert into reports.dq_blocking (as_of_date, check_name, passed, detail) values (%s, %s, %s, %s)",
        (as_of, check_name, passed, detail),
    )


def blocking_failures(conn: psycopg.Connection) -> list[str]:
    """'check: detail' for each blocking check that failed on the latest night recorded."""
    rows = conn.execute(
        """
        select check_name, passed, detail from (
            select distinct on (check_name) check_name, passed, detail
            from reports.dq_blocking
            where as_of_date = (select max(as_of_date) from reports.dq_blocking)
            order by check_name, checked_at desc
        ) latest where not passed order by check_name
        """
    ).fetchall()
    return [f"{name}: {detail}" if detail else name for name, _passed, detail in rows]
