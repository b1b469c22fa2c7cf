"""Which raw rows a data-quality run validates: every live row (full) or only the rows landed since
the suite's last accepted run (nightly).

Every raw row carries the extract batch that last wrote it (``_batch_id``, indexed: inserts,
updates, soft and hard deletes). A raw suite whose run had no blocking failure is *accepted* and
records the newest complete batch at the start of that run (``dq.suite_scope.upto_batch``); the
next nightly run checks row by row only the live rows with a ``_batch_id`` above that mark. This
is the notion dbt's nightly tests use ("rows landed since the last complete build":
cww.transform.nightly_options, dbt/macros/test_scope.sql), kept per suite because Dagster
validates one suite per step. A failed night records no mark, so the next night checks the same
rows again: a held-back table stays held back until its bad rows are corrected (re-landed under a
newer batch, and passing) or deleted (no longer live).

What must see the whole table stays whole but costs one scan per table (:func:`measure`): live
rows (volume), the newest live source change (freshness), the last load (extract_meta). Key
uniqueness across the table is raw's primary key, verified in the catalog (:func:`resolve`); a
table without it, and a suite never accepted yet, is validated whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

from data_quality.expectations.contract import RawTable

MODES = ("full", "nightly")


@dataclass(frozen=True)
class Scope:
    """The rows one raw suite validates row by row in one run."""

    mode: str  # what the suite got: "full" (every live row) or "nightly" (rows after ``after``)
    after: int | None  # rows with _batch_id > after; None: every live row
    upto: int | None  # newest complete extract batch when the run started: the mark if accepted
    reason: str = ""  # why a nightly run validated the whole table

    @property
    def whole(self) -> bool:
        return self.after is None

    def rows_label(self) -> str:
        """How the messages name the rows checked ("rows" when the whole table is)."""
        return "rows" if self.whole else f"new rows (landed after batch {self.after})"

    def describe(self, rows: int | None) -> str:
        """E.g. "739 new rows since batch 12" or "all 76,943 live rows (full run)"."""
        n = f"{rows:,}" if rows is not None else "?"
        if not self.whole:
            return f"{n} new rows since batch {self.after}"
        return f"all {n} live rows ({self.reason or 'full run'})"


@dataclass(frozen=True)
class Facts:
    """One raw table measured whole in one scan, for the nightly table-level checks."""

    live_rows: int
    new_rows: int  # live rows with _batch_id > the scope's mark
    newest_change: datetime | None  # newest live _source_updated_at
    last_loaded_at: datetime | None  # start of the newest batch that loaded the table


def newest_complete_batch(conn: psycopg.Connection) -> int | None:
    """The newest extract batch whose rows are all in (as cww.transform.nightly_options): rows of a
    batch still running land after the run started, so they are checked again next night."""
    if conn.execute("select to_regclass('extract_meta.batches') is null").fetchone()[0]:
        return None
    return conn.execute(
        "select coalesce(min(batch_id) filter (where status = 'running') - 1, max(batch_id))"
        " from extract_meta.batches"
    ).fetchone()[0]


def primary_key(conn: psycopg.Connection, relation: str) -> tuple[str, ...]:
    """The relation's primary-key columns, in key order (empty when it has none)."""
    rows = conn.execute(
        """
        select a.attname
        from pg_index i
        join lateral unnest(i.indkey) with ordinality as k (attnum, n) on true
        join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
        where i.indrelid = to_regclass(%s) and i.indisprimary
        order by k.n
        """,
        (relation,),
    ).fetchall()
    return tuple(r[0] for r in rows)


def resolve(
    conn: psycopg.Connection, mode: str, tables: Iterable[RawTable], marks: dict[str, int]
) -> dict[str, Scope]:
    """Suite name → scope for tonight. ``marks``: suite → batch of its last accepted run."""
    if mode not in MODES:
        raise ValueError(f"unknown data-quality mode {mode!r}; pick from {MODES}")
    upto = newest_complete_batch(conn)
    scopes: dict[str, Scope] = {}
    for t in tables:
        mark = marks.get(t.relation)
        reason = ""
        if mode == "full":
            pass
        elif upto is None:
            reason = "no extract batches recorded"
        elif mark is None:
            reason = "no accepted run yet"
        elif set(primary_key(conn, f'raw."{t.name}"')) != set(t.key):
            # Only the primary key makes "unique among tonight's rows" mean "unique in the table".
            reason = f"raw.{t.name} has no primary key on {', '.join(t.key)}"
        if mode == "full" or reason:
            scopes[t.relation] = Scope("full", None, upto, reason)
        else:
            scopes[t.relation] = Scope("nightly", mark, upto)
    return scopes


def ensure_statistics(conn: psycopg.Connection, t: RawTable) -> bool:
    """Analyze a raw table the planner has no statistics for; True when it had to.

    Without them PostgreSQL guesses that a third of the table has ``_batch_id`` above the mark and
    reads it whole instead of using the index (autovacuum may be off, or not have run yet after
    the initial load). Once analyzed, ranges beyond the histogram are read off the index itself,
    so statistics that are a few nights old still estimate tonight's rows well.
    """
    known = conn.execute(
        "select exists (select 1 from pg_stats where schemaname = 'raw' and tablename = %s"
        " and attname = '_batch_id')",
        (t.name,),
    ).fetchone()[0]
    if not known:
        conn.execute(sql.SQL("analyze {}").format(sql.Identifier("raw", t.name)))
    return not known


def measure(conn: psycopg.Connection, t: RawTable, after: int) -> Facts:
    """Live rows, new live rows and the newest live change in one scan; the last load from
    extract_meta (GX would scan the table once per metric, and once more to read its columns)."""
    live, new, newest = conn.execute(
        sql.SQL(
            "select count(*), count(*) filter (where r._batch_id > {after}), max(r._source_updated_at)"
            " from {table} as r where {live}"
        ).format(after=sql.Literal(after), table=sql.Identifier("raw", t.name), live=t.live("r"))
    ).fetchone()
    loaded = conn.execute(
        "select max(b.started_at) from extract_meta.table_loads tl"
        " join extract_meta.batches b on b.batch_id = tl.batch_id where tl.table_name = %s",
        (t.name,),
    ).fetchone()[0]
    return Facts(int(live), int(new), newest, loaded)
