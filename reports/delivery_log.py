"""The delivery log in the warehouse: what was sent where, so nothing is sent twice or skipped.

One row per (report, period, agency, destination) — the unit that must be delivered exactly once —
plus an append-only ``delivery_attempt`` history. The protocol (see ``reports.runner``):

1. before sending, the row is committed as ``sending`` with the file's checksum and attempts + 1;
2. after the destination confirmed, it becomes ``delivered``;
3. a failure becomes ``failed`` with ``next_attempt_at`` (exponential backoff), retried by later
   runs until ``max_attempts``.

A row still ``sending`` when a run starts means the previous run died mid-send: the runner asks
the destination whether it already holds that exact file (folder, SFTP) before sending again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import psycopg
from psycopg.rows import dict_row

from reports.holdback import HOOK_SQL

SCHEMA_SQL = """
create schema if not exists reports;
create table if not exists reports.delivery_log (
    report          text not null,
    period          date not null,
    agency          text not null,              -- agency code, or PROVINCIAL
    destination     text not null,              -- the destination's stable key
    file_name       text,
    checksum        text,                       -- sha256 of the exact bytes sent
    row_count       bigint,
    byte_count      bigint,
    status          text not null check (status in ('sending', 'delivered', 'failed', 'held', 'uncertain')),
    attempts        integer not null default 0,
    last_error      text,
    next_attempt_at timestamptz,
    first_attempt_at timestamptz,
    last_attempt_at timestamptz,
    delivered_at    timestamptz,
    receipt         text,                       -- what the destination said (path, Message-ID …)
    primary key (report, period, agency, destination)
);
create table if not exists reports.delivery_attempt (
    attempt_id      bigserial primary key,
    report          text not null,
    period          date not null,
    agency          text not null,
    destination     text not null,
    attempt         integer not null,
    outcome         text not null,              -- delivered / failed / held / already-there / resent
    checksum        text,
    detail          text,
    at              timestamptz not null default now()
);
"""

_DDL_LOCK = 7_420_001  # advisory lock id: concurrent first runs must not race on CREATE TABLE


@dataclass(frozen=True)
class Key:
    report: str
    period: date
    agency: str
    destination: str

    def lock_id(self) -> str:
        return f"cww-report|{self.report}|{self.period}|{self.agency}|{self.destination}"


def ensure_schema(conn: psycopg.Connection) -> None:
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (_DDL_LOCK,))
        conn.execute(SCHEMA_SQL)
        conn.execute(HOOK_SQL)


def get(conn: psycopg.Connection, key: Key) -> dict | None:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "select * from reports.delivery_log where report = %s and period = %s and agency = %s "
            "and destination = %s",
            (key.report, key.period, key.agency, key.destination),
        )
        return cur.fetchone()


def try_lock(conn: psycopg.Connection, key: Key) -> bool:
    """Session advisory lock for one delivery unit: a concurrent run of the same night waits its turn."""
    row = conn.execute("select pg_try_advisory_lock(hashtextextended(%s, 0))", (key.lock_id(),)).fetchone()
    return bool(row and row[0])


def unlock(conn: psycopg.Connection, key: Key) -> None:
    conn.execute("select pg_advisory_unlock(hashtextextended(%s, 0))", (key.lock_id(),))


def _history(
    conn: psycopg.Connection, key: Key, attempt: int, outcome: str, checksum: str | None, detail: str | None
) -> None:
    conn.execute(
        "insert into reports.delivery_attempt (report, period, agency, destination, attempt, outcome, "
        "checksum, detail) values (%s, %s, %s, %s, %s, %s, %s, %s)",
        (key.report, key.period, key.agency, key.destination, attempt, outcome, checksum, detail),
    )


def mark_sending(
    conn: psycopg.Connection, key: Key, file_name: str, checksum: str, rows: int, size: int
) -> int:
    """Commit 'about to send' before touching the destination; returns this attempt's number."""
    with conn.transaction():
        row = conn.execute(
            """
            insert into reports.delivery_log as d (report, period, agency, destination, file_name, checksum,
                row_count, byte_count, status, attempts, first_attempt_at, last_attempt_at)
            values (%s, %s, %s, %s, %s, %s, %s, %s, 'sending', 1, now(), now())
            on conflict (report, period, agency, destination) do update set
                file_name = excluded.file_name, checksum = excluded.checksum,
                row_count = excluded.row_count, byte_count = excluded.byte_count,
                status = 'sending', attempts = d.attempts + 1, last_attempt_at = now(),
                first_attempt_at = coalesce(d.first_attempt_at, now())
            returning attempts
            """,
            (key.report, key.period, key.agency, key.destination, file_name, checksum, rows, size),
        ).fetchone()
        assert row is not None
        _history(conn, key, row[0], "sending", checksum, None)
        return int(row[0])


def mark_delivered(
    conn: psycopg.Connection, key: Key, attempt: int, receipt: str, outcome: str = "delivered"
) -> None:
    with conn.transaction():
        conn.execute(
            "update reports.delivery_log set status = 'delivered', delivered_at = now(), receipt = %s, "
            "last_error = null, next_attempt_at = null "
            "where report = %s and period = %s and agency = %s and destination = %s",
            (receipt, key.report, key.period, key.agency, key.destination),
        )
        _history(conn, key, attempt, outcome, None, receipt)


def mark_failed(
    conn: psycopg.Connection, key: Key, attempt: int, error: str, backoff_minutes: float
) -> datetime:
    """Record a failed send and when the next run may try again (backoff doubles per attempt)."""
    wait = timedelta(minutes=backoff_minutes * (2 ** max(attempt - 1, 0)))
    with conn.transaction():
        row = conn.execute(
            "update reports.delivery_log set status = 'failed', last_error = %s, "
            "next_attempt_at = now() + %s where report = %s and period = %s and agency = %s "
            "and destination = %s returning next_attempt_at",
            (error[:2000], wait, key.report, key.period, key.agency, key.destination),
        ).fetchone()
        _history(conn, key, attempt, "failed", None, error[:2000])
    assert row is not None
    return row[0]


def mark_uncertain(conn: psycopg.Connection, key: Key, attempt: int, detail: str) -> None:
    with conn.transaction():
        conn.execute(
            "update reports.delivery_log set status = 'uncertain', last_error = %s "
            "where report = %s and period = %s and agency = %s and destination = %s",
            (detail, key.report, key.period, key.agency, key.destination),
        )
        _history(conn, key, attempt, "uncertain", None, detail)


def mark_held(conn: psycopg.Connection, key: Key, reason: str) -> None:
    """A night with failed blocking checks: remember it was held (a later run sends it when clean)."""
    with conn.transaction():
        conn.execute(
            """
            insert into reports.delivery_log as d (report, period, agency, destination, status, last_error)
            values (%s, %s, %s, %s, 'held', %s)
            on conflict (report, period, agency, destination) do update set
                status = 'held', last_error = excluded.last_error
            where d.status <> 'delivered'
            """,
            (key.report, key.period, key.agency, key.destination, reason[:2000]),
        )
        _history(conn, key, 0, "held", None, reason[:2000])


def outstanding(conn: psycopg.Connection, report: str, max_attempts: int) -> list[dict]:
    """Deliveries of this report that later runs should still try (held, interrupted, or failed
    with attempts left). Exhausted ones failed their run once and wait for `cww report resend`."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "select * from reports.delivery_log where report = %s "
            "and (status in ('sending', 'held') or (status = 'failed' and attempts < %s)) "
            "order by period, agency, destination",
            (report, max_attempts),
        )
        return cur.fetchall()


def release(conn: psycopg.Connection, key: Key) -> bool:
    """A person checked an exhausted or uncertain delivery: allow the next run to send it again."""
    with conn.transaction():
        row = conn.execute(
            "update reports.delivery_log set status = 'failed', attempts = 0, next_attempt_at = now() "
            "where report = %s and period = %s and agency = %s and destination = %s "
            "and status in ('failed', 'uncertain', 'sending') returning attempts",
            (key.report, key.period, key.agency, key.destination),
        ).fetchone()
        if row is not None:
            _history(conn, key, 0, "released", None, "released by a person (cww report resend)")
    return row is not None


def latest(conn: psycopg.Connection, report: str | None, limit: int) -> list[dict]:
    if conn.execute("select to_regclass('reports.delivery_log')").fetchone() == (None,):
        return []
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "select * from reports.delivery_log where %(r)s::text is null or report = %(r)s "
            "order by coalesce(last_attempt_at, first_attempt_at) desc nulls last, period desc limit %(n)s",
            {"r": report, "n": limit},
        )
        return cur.fetchall()
