"""The warehouse ``dq`` schema: every run, every expectation result, and row-count baselines.

``dq.expectation_result`` is what the data team (and the data-quality dashboard) reads;
``dq.table_volume`` keeps each suite's live row count per run, and the volume expectation compares
tonight with the last *accepted* night, so a bad night does not become tomorrow's baseline.
``dq.suite_scope`` records which raw rows each run validated (the mode and the batch range) and
whether the suite was accepted: the next nightly run starts after the last accepted batch.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass
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
do $$ begin  -- full | nightly (null: a run before modes); checked first: no lock when present
    if not exists (select 1 from information_schema.columns
                   where table_schema = 'dq' and table_name = 'run' and column_name = 'mode') then
        alter table dq.run add column mode text;
    end if;
end $$;
create table if not exists dq.suite_scope (
    run_id        text not null references dq.run on delete cascade,
    suite         text not null,
    mode          text not null,        -- full: every live row; nightly: rows landed after after_batch
    after_batch   bigint,               -- null in full mode
    upto_batch    bigint,               -- newest complete extract batch when the run started
    rows_checked  bigint,               -- live rows the row-level checks read
    reason        text not null default '',  -- why a nightly run validated the whole table
    accepted      boolean not null,     -- no blocking failure: the next nightly run starts after upto_batch
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


def accepted_marks(conn: psycopg.Connection) -> dict[str, int]:
    """Suite → the newest complete batch of its last accepted run (nightly runs start after it)."""
    rows = conn.execute(
        """
        select distinct on (s.suite) s.suite, s.upto_batch
        from dq.suite_scope as s join dq.run as r using (run_id)
        where s.accepted and s.upto_batch is not null
        order by s.suite, r.started_at desc
        """
    ).fetchall()
    return {suite: int(batch) for suite, batch in rows}


@dataclass(frozen=True)
class ScopeRow:
    suite: str
    mode: str
    after_batch: int | None
    upto_batch: int | None
    rows_checked: int | None
    reason: str
    accepted: bool


def start_run(
    conn: psycopg.Connection,
    run_id: str,
    started: datetime,
    as_of: date | None,
    suites: list[str],
    mode: str = "full",
) -> None:
    conn.execute(
        "insert into dq.run (run_id, started_at, as_of_date, suites, mode) values (%s, %s, %s, %s, %s)",
        (run_id, started, as_of, suites, mode),
    )


def finish_run(
    conn: psycopg.Connection,
    run_id: str,
    rows: list[ResultRow],
    volumes: dict[str, tuple[int, bool]],
    seconds: float,
    docs_path: str,
    scopes: list[ScopeRow] | None = None,
) -> None:
    """Results, volumes, raw scopes and the run's summary in one transaction."""
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
            cur.executemany(
                "insert into dq.suite_scope (run_id, suite, mode, after_batch, upto_batch, rows_checked,"
                " reason, accepted) values (%s, %s, %s, %s, %s, %s, %s, %s)",
                [(run_id, *astuple(x)) for x in scopes or []],  # ScopeRow's fields in column order
            )
        conn.execute(
            """
            update dq.run set finished_at = clock_timestamp(), passed = %s, blocking_failed = %s,
                   warnings_failed = %s, seconds = %s, docs_path = %s where run_id = %s
            """,
            (blocking_failed == 0, blocking_failed, warnings_failed, seconds, docs_path, run_id),
        )
