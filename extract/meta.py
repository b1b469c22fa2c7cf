"""Extraction state in the warehouse (schema ``extract_meta``) and the run lock.

Everything the extractor remembers lives in the warehouse next to the data it describes, so a
table's rows, its watermark and its batch-log entry commit in one transaction: after a crash
either all three moved or none did.
"""

from __future__ import annotations

import time

import psycopg

from cww.errors import CwwError

# One advisory-lock key for "an extract run is writing this warehouse".
LOCK_KEY = 7_420_001

DDL = """
create schema if not exists extract_meta;
create schema if not exists raw;

-- One row per run. A run killed mid-way stays 'running' until the next run marks it 'abandoned'.
create table if not exists extract_meta.batches (
    batch_id      bigserial primary key,
    started_at    timestamptz not null default now(),
    finished_at   timestamptz,
    status        text not null default 'running', -- running, succeeded, partial, failed, abandoned
    full_refresh  boolean not null default false,
    tables        text[] not null,
    pid           integer not null default pg_backend_pid(),
    message       text
);

-- One row per table per run, committed in the same transaction as the table's data.
create table if not exists extract_meta.table_loads (
    batch_id        bigint not null references extract_meta.batches,
    table_name      text not null,
    path            text not null,      -- copy-direct, copy-merge, generic
    mode            text not null,      -- watermark, snapshot, full-refresh
    watermark_from  timestamptz,
    watermark_to    timestamptz,
    rows_read       bigint not null,
    inserted        bigint not null,
    updated         bigint not null,
    soft_deleted    bigint not null,
    hard_deleted    bigint not null,
    rejected        bigint not null,
    bytes           bigint not null,
    seconds         double precision not null,
    key_check       boolean not null,
    warnings        text[] not null default '{}',
    loaded_at       timestamptz not null default now(),
    primary key (batch_id, table_name)
);

-- The high watermark per table: the greatest source updated_at landed so far.
create table if not exists extract_meta.watermarks (
    table_name        text primary key,
    watermark         timestamptz,
    last_batch_id     bigint not null,
    last_key_check_at timestamptz,
    updated_at        timestamptz not null default now()
);

-- Rows that broke a registry rule: never silently dropped.
create table if not exists extract_meta.rejected_rows (
    reject_id    bigserial primary key,
    batch_id     bigint not null references extract_meta.batches,
    table_name   text not null,
    key          jsonb not null,
    reason       text not null,
    row_data     jsonb not null,
    rejected_at  timestamptz not null default now()
);
create index if not exists rejected_rows_table_key on extract_meta.rejected_rows (table_name, key);

-- Tables that failed in a run (drift, unexpected errors), with the message shown to people.
create table if not exists extract_meta.table_errors (
    batch_id    bigint not null references extract_meta.batches,
    table_name  text not null,
    error       text not null,
    failed_at   timestamptz not null default now()
);

-- Orchestrator-level failures (written by the Dagster run-failure sensor).
create table if not exists extract_meta.pipeline_failures (
    failure_id  bigserial primary key,
    run_id      text not null unique,
    job_name    text not null,
    failed_at   timestamptz not null default now(),
    steps       text[] not null default '{}',
    error       text not null,
    emailed_to  text
);
"""


class ExtractBusyError(CwwError):
    """Another extract run holds the warehouse lock."""


def ensure_meta(conn: psycopg.Connection) -> None:
    """Create the extract_meta schema and tables (idempotent; serialised against concurrent runs)."""
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (LOCK_KEY + 1,))
        conn.execute(DDL)


def acquire_lock(conn: psycopg.Connection, wait_seconds: float, warehouse: str) -> None:
    """Take the session-level run lock, waiting up to ``wait_seconds``; else raise ExtractBusyError.

    Session-level, so it is released by PostgreSQL itself if the extractor dies (even SIGKILL).
    """
    deadline = time.monotonic() + max(0.0, wait_seconds)
    while True:
        if conn.execute("select pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()[0]:
            return
        if time.monotonic() >= deadline:
            holder = conn.execute(
                """
                select a.pid, a.backend_start, a.application_name from pg_locks l
                join pg_stat_activity a on a.pid = l.pid
                where l.locktype = 'advisory' and l.objid = %s and l.granted and l.database = (
                    select oid from pg_database where datname = current_database())
                limit 1
                """,
                (LOCK_KEY,),
            ).fetchone()
            who = (
                f" (server pid {holder[0]}, connected since {holder[1]:%Y-%m-%d %H:%M:%S})" if holder else ""
            )
            raise ExtractBusyError(
                f"another extract run is writing warehouse {warehouse}{who}; waited {wait_seconds:.0f} s. "
                "Nothing was changed. Fix: let it finish and re-run, or wait longer with "
                "CWW_EXTRACT_LOCK_WAIT_SECONDS."
            )
        time.sleep(0.2)


def release_lock(conn: psycopg.Connection) -> None:
    conn.execute("select pg_advisory_unlock(%s)", (LOCK_KEY,))


def start_batch(conn: psycopg.Connection, tables: list[str], full_refresh: bool) -> int:
    """Mark runs that died holding the lock as abandoned, then open a new batch."""
    conn.execute(
        "update extract_meta.batches set status = 'abandoned', finished_at = now(), "
        "message = 'the run ended without finishing (killed or crashed); its committed tables are kept' "
        "where status = 'running'"
    )
    row = conn.execute(
        "insert into extract_meta.batches (tables, full_refresh) values (%s, %s) returning batch_id",
        (tables, full_refresh),
    ).fetchone()
    return int(row[0])


def finish_batch(conn: psycopg.Connection, batch_id: int, status: str, message: str | None) -> None:
    conn.execute(
        "update extract_meta.batches set status = %s, finished_at = now(), message = %s where batch_id = %s",
        (status, message, batch_id),
    )


def record_table_error(conn: psycopg.Connection, batch_id: int, table: str, error: str) -> None:
    conn.execute(
        "insert into extract_meta.table_errors (batch_id, table_name, error) values (%s, %s, %s)",
        (batch_id, table, error),
    )
