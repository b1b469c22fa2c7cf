"""Landing one table: drift check, stream into the warehouse, rejects, merge, deletes, watermark.

Everything a table changes in the warehouse — raw rows, rejected rows, the watermark, the batch
log entry, even the DDL of drift — happens in ONE warehouse transaction. A crash at any point
leaves the previous committed state, and the next run simply does the work again.

Two ways in:
* ``copy-direct`` — the first load of a table whose source guarantees unique, non-null keys:
  rows are copied straight into the empty raw table (the metadata columns fill themselves from
  defaults), so the first load costs about what a bare COPY costs.
* ``copy-merge`` — every later load: rows go to a temporary staging table, rule-breaking rows are
  moved to the rejects table, and one ``insert … on conflict … do update`` lands the rest,
  skipping rows that did not really change (the look-back re-reads are free of writes).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Protocol

import psycopg
from psycopg import sql

from extract.catalog import Column, table_columns
from extract.dependent_views import views_set_aside
from extract.drift import DriftError, plan_drift
from extract.faults import checkpoint
from extract.options import ExtractOptions
from extract.pg_source import Keys, Since
from extract.registry import TableSpec
from extract.rules import active_rules, reject_statement
from extract.summary import TableResult

GAP_CHUNK = 50_000


class Source(Protocol):
    """What the loader needs from a source (PostgreSQL fast path or generic SQLAlchemy)."""

    path: str

    def columns(self, table: str) -> list[Column]: ...
    def unique_keys(self, table: str) -> list[frozenset[str]]: ...
    def end_table(self) -> None: ...
    def copy_into(
        self,
        wh: psycopg.Connection,
        table: str,
        columns: list[str],
        where: Since | Keys | None,
        target: sql.Composable,
        progress: Callable[[int, int], None] | None = None,
        *,
        binary: bool = True,
        freeze: bool = False,
    ) -> tuple[int, int]: ...


def _ids(names: list[str] | tuple[str, ...], alias: str | None = None) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(alias, n) if alias else sql.Identifier(n) for n in names)


def _key_match(key: tuple[str, ...], a: str, b: str) -> sql.Composable:
    return sql.SQL(" and ").join(
        sql.SQL("{} = {}").format(sql.Identifier(a, k), sql.Identifier(b, k)) for k in key
    )


def _source_updated_expr(col: Column | None) -> sql.Composable | None:
    """How ``_source_updated_at`` derives from the watermark column (a stored generated column)."""
    if col is None:
        return None
    if col.type == "timestamp with time zone":
        return sql.Identifier(col.name)
    if col.type == "timestamp without time zone":
        return sql.SQL("({} at time zone 'UTC')").format(sql.Identifier(col.name))
    return None


class TableLoader:
    """Loads one registry table into ``raw.<table>``; see the module docstring for the steps."""

    def __init__(
        self,
        source: Source,
        wh: psycopg.Connection,
        spec: TableSpec,
        batch_id: int,
        full_refresh: bool,
        options: ExtractOptions,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.source = source
        self.wh = wh
        self.spec = spec
        self.batch_id = batch_id
        self.full_refresh = full_refresh
        self.options = options
        self.progress = progress
        self.raw = sql.Identifier("raw", spec.name)

    # ------------------------------------------------------------------ helpers
    def _one(self, query: sql.Composable, params: tuple | None = None):  # type: ignore[no-untyped-def]
        return self.wh.execute(query, params).fetchone()[0]

    def _create_raw(self, cols: list[Column]) -> None:
        spec = self.spec
        wm = next((c for c in cols if c.name == spec.watermark_column), None)
        expr = _source_updated_expr(wm)
        defs = [
            sql.SQL("{} {}{}").format(
                sql.Identifier(c.name), sql.SQL(c.type), sql.SQL(" not null" if c.name in spec.key else "")
            )
            for c in cols
        ]
        defs += [
            sql.SQL("_batch_id bigint not null default current_setting('cww.batch_id')::bigint"),
            sql.SQL("_extracted_at timestamptz not null default now()"),
            sql.SQL("_source_updated_at timestamptz generated always as ({}) stored").format(expr)
            if expr is not None
            else sql.SQL("_source_updated_at timestamptz"),
            sql.SQL("_deleted boolean not null default false"),
            sql.SQL("primary key ({})").format(_ids(spec.key)),
        ]
        self.wh.execute(sql.SQL("create table {} ({})").format(self.raw, sql.SQL(", ").join(defs)))
        self.wh.execute(
            sql.SQL("comment on table {} is {}").format(
                self.raw,
                sql.Literal(
                    f"Current state of source table {spec.name}, landed by extract/ "
                    "(_deleted = hard-deleted at the source)."
                ),
            )
        )

    def _ensure_batch_index(self) -> None:
        """Index ``_batch_id`` once the rows are in (not before: COPY FREEZE stays index-free).

        The nightly dbt build reads "rows landed since batch N" from the biggest raw tables
        (contact notes: millions of rows, a few thousand new); without this it scans them whole.
        """
        self.wh.execute(
            sql.SQL("create index if not exists {} on {} (_batch_id)").format(
                sql.Identifier(f"{self.spec.name}__batch_id"), self.raw
            )
        )

    def _apply_drift(self, src: list[Column], raw: list[Column], res: TableResult) -> None:
        plan = plan_drift(self.spec, src, raw)
        for c in plan.add:
            self.wh.execute(
                sql.SQL("alter table {} add column {} {}").format(
                    self.raw, sql.Identifier(c.name), sql.SQL(c.type)
                )
            )
            res.warnings.append(f"new source column {c.name!r} ({c.type}) added to raw.{self.spec.name}")
        if plan.widen:
            # Views reading raw (dbt staging) block ALTER TYPE: set them aside in this transaction.
            with views_set_aside(self.wh, self.raw) as views:
                for name, old, new in plan.widen:
                    self.wh.execute(
                        sql.SQL("alter table {} alter column {} type {}").format(
                            self.raw, sql.Identifier(name), sql.SQL(new)
                        )
                    )
                    res.warnings.append(
                        f"column {name!r} widened from {old} to {new} in raw.{self.spec.name}"
                        + (f" (views re-created: {', '.join(views)})" if views else "")
                    )
        res.warnings.extend(plan.warnings)

    def _key_guaranteed(self, src: list[Column]) -> bool:
        """The source promises unique, non-null keys (so a straight COPY into raw cannot fail)."""
        notnull = {c.name for c in src if c.not_null}
        key = frozenset(self.spec.key)
        return key <= notnull and key in self.source.unique_keys(self.spec.name)

    def _mark_hard_deletes(self, present: sql.Composable) -> int:
        """Flag live raw rows whose key is absent from ``present`` (a full key set of the source)."""
        cur = self.wh.execute(
            sql.SQL(
                "update {raw} as r set _deleted = true, _batch_id = {b}, _extracted_at = now() "
                "where not r._deleted and not exists (select 1 from {present} as p where {match})"
            ).format(
                raw=self.raw,
                b=sql.Literal(self.batch_id),
                present=present,
                match=_key_match(self.spec.key, "p", "r"),
            )
        )
        return cur.rowcount

    def _probe_joins(self, on: bool) -> None:
        """Index probes instead of a hash join for small staging tables.

        With a few thousand staged rows against millions in raw, the planner still likes a hash
        join that reads all of raw (measured: 1.8 s against 0.5 s on 2M rows); a nightly run
        should cost what changed, so joins of a small stage with raw use the primary key.
        """
        value = "off" if on else "on"
        self.wh.execute(
            "select set_config('enable_hashjoin', %s, true), set_config('enable_mergejoin', %s, true)",
            (value, value),
        )

    def _drop_unchanged(self, stg: sql.Composable, columns: list[str]) -> int:
        """Remove staged rows identical to live raw rows (look-back re-reads) before the merge.

        ``on conflict do update … where false`` still locks, and so writes, every conflicting
        row; a read-only anti-join first keeps a nightly run's writes proportional to what changed.
        """
        non_key = [c for c in columns if c not in self.spec.key]
        if not non_key:
            return 0
        cur = self.wh.execute(
            sql.SQL(
                "delete from {stg} s using {raw} r "
                "where {m} and not r._deleted and ({a}) is not distinct from ({b})"
            ).format(
                stg=stg,
                raw=self.raw,
                m=_key_match(self.spec.key, "s", "r"),
                a=sql.SQL(", ").join(sql.Identifier("s", c) for c in non_key),
                b=sql.SQL(", ").join(sql.Identifier("r", c) for c in non_key),
            )
        )
        return cur.rowcount

    def _merge(self, stg: sql.Composable, columns: list[str]) -> tuple[int, int]:
        """Upsert staging into raw, touching only rows that changed; returns (inserted, updated)."""
        non_key = [c for c in columns if c not in self.spec.key]
        sets = [sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c)) for c in non_key]
        sets += [
            sql.SQL("_batch_id = excluded._batch_id"),
            sql.SQL("_extracted_at = excluded._extracted_at"),
            sql.SQL("_deleted = false"),
        ]
        changed = sql.SQL("({}) is distinct from ({})").format(
            sql.SQL(", ").join([*(sql.Identifier("r", c) for c in non_key), sql.SQL("r._deleted")]),
            sql.SQL(", ").join([*(sql.Identifier("excluded", c) for c in non_key), sql.SQL("false")]),
        )
        row = self.wh.execute(
            sql.SQL(
                """
                with m as (
                    insert into {raw} as r ({cols}) select {cols} from {stg}
                    on conflict ({key}) do update set {sets} where {changed}
                    returning (xmax = 0) as ins)
                select count(*) filter (where ins), count(*) filter (where not ins) from m
                """
            ).format(
                raw=self.raw,
                cols=_ids(columns),
                stg=stg,
                key=_ids(self.spec.key),
                sets=sql.SQL(", ").join(sets),
                changed=changed,
            )
        ).fetchone()
        return int(row[0]), int(row[1])

    def _soft_deletes(self, stg: sql.Composable, columns: list[str]) -> int:
        flag = self.spec.soft_delete_column
        if not flag or flag not in columns:
            return 0
        return int(
            self._one(
                sql.SQL(
                    "select count(*) from {stg} s join {raw} r on {m} "
                    "where s.{f} and not coalesce(r.{f}, false)"
                ).format(stg=stg, raw=self.raw, m=_key_match(self.spec.key, "s", "r"), f=sql.Identifier(flag))
            )
        )

    def _source_rejects(self) -> int:
        """Rows the source reader itself refused (unparseable values on the generic path)."""
        take = getattr(self.source, "take_rejected", None)
        return int(take()) if take else 0

    def _max_watermark(self, rel: sql.Composable) -> dt.datetime | None:
        if self.spec.mode != "watermark" or not self.spec.watermark_column:
            return None
        value = self._one(
            sql.SQL("select max({}) from {}").format(sql.Identifier(self.spec.watermark_column), rel)
        )
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)  # timestamp without time zone: read as UTC (session)
        elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            value = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
        return value

    def _temp(self, name: str, cols: list[Column]) -> sql.Composable:
        ident = sql.Identifier(name)
        self.wh.execute(
            sql.SQL("create temp table {} ({}) on commit drop").format(
                ident,
                sql.SQL(", ").join(
                    sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.type)) for c in cols
                ),
            )
        )
        return ident

    # ------------------------------------------------------------------ the load
    def run(self) -> TableResult:
        start = self._start = time.perf_counter()
        spec = self.spec
        res = TableResult(table=spec.name, path=self.source.path)
        try:
            src_cols = self.source.columns(spec.name)
            if not src_cols:
                raise DriftError(
                    f"table {spec.name}: not found in the source (or the reader role cannot see it). Fix: "
                    "grant SELECT on it to the reader role, or remove it from the extract registry."
                )
            with self.wh.transaction():
                self._load(src_cols, res)
                checkpoint("after_merge", self.options)
        finally:
            self.source.end_table()
        res.seconds = time.perf_counter() - start
        return res

    def _load(self, src_cols: list[Column], res: TableResult) -> None:
        spec, wh = self.spec, self.wh
        columns = [c.name for c in src_cols]
        wh.execute("select set_config('cww.batch_id', %s, true)", (str(self.batch_id),))
        raw_cols = table_columns(wh, "raw", spec.name)
        if raw_cols:
            self._apply_drift(src_cols, raw_cols, res)
            empty = not self._one(sql.SQL("select exists (select 1 from {})").format(self.raw))
            have = {c.name: c.type for c in table_columns(wh, "raw", spec.name)}
            same_types = all(have.get(c.name) == c.type for c in src_cols)
        else:
            self._create_raw(src_cols)
            empty = same_types = True
        state = wh.execute(
            "select watermark, last_key_check_at, now() from extract_meta.watermarks "
            "where table_name = %s for update",
            (spec.name,),
        ).fetchone()
        old_wm, last_check, now = state if state else (None, None, self._one(sql.SQL("select now()")))
        rules = active_rules(spec, src_cols)
        full_read = spec.mode == "snapshot" or self.full_refresh or empty or old_wm is None
        res.mode = (
            "initial"
            if empty
            else "full-refresh"
            if self.full_refresh
            else spec.mode
            if full_read
            else "watermark"
        )
        res.watermark_from = old_wm
        new_wm: dt.datetime | None
        if empty and self._key_guaranteed(src_cols):
            res.path = f"{self.source.path}-direct"
            if raw_cols:
                # Empty already: truncating it in this transaction lets COPY write frozen rows.
                wh.execute(sql.SQL("truncate {}").format(self.raw))
            written, res.bytes = self.source.copy_into(
                wh, spec.name, columns, None, self.raw, self.progress, binary=same_types, freeze=True
            )
            refused = self._source_rejects()
            res.rows_read = written + refused
            new_wm = self._max_watermark(self.raw)
            ruled = int(self._one(reject_statement(spec, rules, self.raw))) if rules else 0
            res.rejected = refused + ruled
            res.inserted = written - ruled
            key_checked = True
        else:
            res.path = f"{self.source.path}-merge"
            stg = self._temp("_cww_stage", src_cols)
            where = None
            if not full_read and spec.watermark_column:
                where = Since(spec.watermark_column, old_wm - spec.lookback)
            res.rows_read, res.bytes = self.source.copy_into(
                wh, spec.name, columns, where, stg, self.progress
            )
            res.rejected = self._source_rejects()
            res.rows_read += res.rejected
            wh.execute(sql.SQL("analyze {}").format(stg))  # temp tables get no statistics otherwise
            new_wm = self._max_watermark(stg)
            key_checked = full_read
            if full_read and not empty:
                res.deleted = self._mark_hard_deletes(stg)
            if rules:
                res.rejected += int(self._one(reject_statement(spec, rules, stg)))
            self._probe_joins(not full_read)
            res.soft_deleted = self._soft_deletes(stg, columns)
            self._drop_unchanged(stg, columns)
            self._probe_joins(False)
            res.inserted, res.updated = self._merge(stg, columns)
            every = spec.hard_delete_every
            due = every is not None and (last_check is None or now - last_check >= every)
            if not full_read and (due or self.full_refresh):
                self._key_check(src_cols, columns, stg, rules, res)
                key_checked = True
        self._ensure_batch_index()
        if not full_read and old_wm is not None and (new_wm is None or new_wm < old_wm):
            new_wm = old_wm  # incremental reads never move it backwards; a full read is the truth
        res.watermark_to = new_wm
        res.key_check = key_checked
        wh.execute(
            """
            insert into extract_meta.watermarks (table_name, watermark, last_batch_id, last_key_check_at)
            values (%(t)s, %(wm)s, %(b)s, case when %(kc)s then now() end)
            on conflict (table_name) do update set watermark = excluded.watermark,
                last_batch_id = excluded.last_batch_id, updated_at = now(),
                last_key_check_at = coalesce(excluded.last_key_check_at,
                                             extract_meta.watermarks.last_key_check_at)
            """,
            {"t": spec.name, "wm": new_wm, "b": self.batch_id, "kc": key_checked},
        )
        wh.execute(
            """
            insert into extract_meta.table_loads (batch_id, table_name, path, mode, watermark_from,
                watermark_to, rows_read, inserted, updated, soft_deleted, hard_deleted, rejected, bytes,
                seconds, key_check, warnings)
            values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            """,
            (
                self.batch_id,
                spec.name,
                res.path,
                res.mode,
                old_wm,
                new_wm,
                res.rows_read,
                res.inserted,
                res.updated,
                res.soft_deleted,
                res.deleted,
                res.rejected,
                res.bytes,
                time.perf_counter() - self._start,
                key_checked,
                res.warnings,
            ),
        )

    def _key_check(
        self, src_cols: list[Column], columns: list[str], stg: sql.Composable, rules: list, res: TableResult
    ) -> None:
        """Compare key sets: flag hard deletes, and fetch live source rows raw does not have.

        The second half is a safety net for rows the watermark missed (an ``updated_at`` set
        further into the past than the look-back window, a row deleted and re-inserted).
        """
        spec = self.spec
        key_cols = [c for c in src_cols if c.name in spec.key]
        key_cols.sort(key=lambda c: spec.key.index(c.name))
        keys = self._temp("_cww_keys", key_cols)
        self.source.copy_into(self.wh, spec.name, list(spec.key), None, keys)
        res.deleted += self._mark_hard_deletes(keys)
        missing = self.wh.execute(
            sql.SQL(
                "select {kcols} from {keys} k "
                "where not exists (select 1 from {raw} r where {m} and not r._deleted) "
                "and not exists (select 1 from extract_meta.rejected_rows j where j.table_name = {t} "
                "and j.key = jsonb_build_object({kobj}))"
            ).format(
                kcols=_ids(spec.key, "k"),
                keys=keys,
                raw=self.raw,
                m=_key_match(spec.key, "k", "r"),
                t=sql.Literal(spec.name),
                kobj=sql.SQL(", ").join(
                    sql.SQL("{}, {}").format(sql.Literal(k), sql.Identifier("k", k)) for k in spec.key
                ),
            )
        ).fetchall()
        types = tuple(c.type for c in key_cols)
        for i in range(0, len(missing), GAP_CHUNK):
            chunk = [tuple(r) for r in missing[i : i + GAP_CHUNK]]
            self.wh.execute(sql.SQL("truncate {}").format(stg))
            n, b = self.source.copy_into(self.wh, spec.name, columns, Keys(spec.key, types, chunk), stg)
            refused = self._source_rejects()
            res.rejected += refused
            res.rows_read += n + refused
            res.bytes += b
            if rules:
                res.rejected += int(self._one(reject_statement(spec, rules, stg)))
            self._probe_joins(True)
            res.soft_deleted += self._soft_deletes(stg, columns)
            self._drop_unchanged(stg, columns)
            self._probe_joins(False)
            ins, upd = self._merge(stg, columns)
            res.inserted += ins
            res.updated += upd
        if missing:
            res.warnings.append(f"{len(missing)} row(s) the watermark missed were recovered by the key check")
