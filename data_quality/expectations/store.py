"""The warehouse ``dq`` schema: every run, every expectation result, and row-count baselines.

``dq.expectation_result`` is what the data team (and the data-quality dashboard) reads;
``dq.table_volume`` keeps each suite's live row count per run, and the volume expectation compares
tonight with the last *accepted* night, so a bad night does not become tomorrow's baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import psycopg

DDL = """
create schema if not exists dq;
create table if not exists dq.run (
    run_id        text primary key,
    started_at    timestamptz not null,
    finished_at   timestamptz,
    as_of_date    date,
    suites        text[] not null,
    passed        boolean,
    blocking_failed int,
    warnings_failed int,
    seconds       double precision,
    docs_path     text
);
create table if not exists dq.expectation_result (
    run_id          text not null references dq.run on delete cascade,
    suite           text not null,
    expectation     text not null,      -- GX expectation type, e.g. expect_column_values_to_not_be_null
    column_name     text,               -- '' for table-level expectations
    observed_value  text,
    unexpected_count bigint,
    element_count   bigint,
    passed          boolean not null,
    blocking        boolean not null,
    message         text not null,
    run_at          timestamptz not null
);
create index if not exists expectation_result_suite on dq.expectation_result (suite, run_at desc);
create table if not exists dq.table_volume (
    run_id        text not null references dq.run on delete cascade,
    suite         text not null,
    row_count     bigint not null,
    accepted      boolean not null,     -- the volume expectation passed (or had no baseline yet)
    measured_at   timestamptz not null,
    primary key (run_id, suite)
);
comment on schema dq is 'Data-quality results (Great Expectations suites run by data_quality/expectations)';
"""


@dataclass(frozen=True)
class ResultRow:
    suite: str
    expectation: str
    column: str
    observed: str
    unexpected_count: int | None
    element_count: int | None
    passed: bool
    blocking: bool
    message: str


def ensure_schema(conn: psycopg.Connection) -> None:
    conn.execute(DDL)


def baselines(conn: psycopg.Connection) -> dict[str, int]:
    """Suite → live row count of its last accepted night."""
    rows = conn.execute(
        """
        select distinct on (suite) suite, row_count
        from dq.table_volume where accepted order by suite, measured_at desc
        """
    ).fetchall()
    return {suite: int(n) for suite, n in rows}


def start_run(
    conn: psycopg.Connection, run_id: str, started: datetime, as_of: date | None, suites: list[str]
) -> None:
    conn.execute(
        "insert into dq.run (run_id, started_at, as_of_date, suites) values (%s, %s, %s, %s)",
        (run_id, started, as_of, suites),
    )


def finish_run(
    conn: psycopg.Connection,
    run_id: str,
    rows: list[ResultRow],
    volumes: dict[str, tuple[int, bool]],
    seconds: float,
    docs_path: str,
) -> None:
    """Results, volumes and the run's summary in one transaction."""
    blocking_failed = sum(1 for r in rows if r.blocking and not r.passed)
    warnings_failed = sum(1 for r in rows if not r.blocking and not r.passed)
    with conn.transaction():
        with conn.cursor() as cur:
            cur.executemany(
                """
                insert into dq.expectation_result (run_id, suite, expectation, column_name, observed_value,
                    unexpected_count, element_count, passed, blocking, message, run_at)
                values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
                        (select started_at from dq.run where run_id = %s))
                """,
                [
                    (
                        run_id,
                        r.suite,
                        r.expectation,
                        r.column,
                        r.observed,
                        r.unexpected_count,
                        r.element_count,
                        r.passed,
                        r.blocking,
                        r.message,
                        run_id,
                    )
                    for r in rows
                ],
            )
            cur.executemany(
                "insert into dq.table_volume (run_id, suite, row_count, accepted, measured_at)"
                " values (%s, %s, %s, %s, clock_timestamp())",
                [(run_id, suite, n, ok) for suite, (n, ok) in volumes.items()],
            )
        conn.execute(
            """
            update dq.run set finished_at = clock_timestamp(), passed = %s, blocking_failed = %s,
                   warnings_failed = %s, seconds = %s, docs_path = %s where run_id = %s
            """,
            (blocking_failed == 0, blocking_failed, warnings_failed, seconds, docs_path, run_id),
        )
