"""Proving raw matches the source: counts, key sets and a checksum of every column.

Both sides hash each row (md5 of its text form, with one time zone and date style) and sum the
hashes per bucket of keys; only buckets whose count or sum differ are fetched key by key. So a
clean reconcile moves a few hundred numbers, not the tables, and a dirty one names the keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from extract.catalog import META_COLUMNS, Column, table_columns
from extract.options import ExtractOptions
from extract.registry import TableSpec

EXAMPLES = 5


@dataclass
class TableDiff:
    """Differences for one table; ``ok`` when there are none (rejected rows are accounted for)."""

    table: str
    source_rows: int = 0
    raw_rows: int = 0
    missing: list[str] = field(default_factory=list)  # keys in the source, not live in raw
    extra: list[str] = field(default_factory=list)  # keys live in raw, not in the source
    changed: list[str] = field(default_factory=list)  # same key, different column values
    rejected: list[str] = field(default_factory=list)  # missing/changed but held in rejected_rows
    problems: list[str] = field(default_factory=list)  # shape problems (table or column missing)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.changed or self.problems)

    def describe(self) -> str:
        if self.ok:
            extra = f", {len(self.rejected)} rejected (accounted for)" if self.rejected else ""
            return f"{self.table}: {self.source_rows} rows match{extra}"
        parts = [*self.problems]
        for name, keys in (
            ("missing in raw", self.missing),
            ("extra in raw", self.extra),
            ("changed", self.changed),
        ):
            if keys:
                parts.append(f"{len(keys)} {name} (e.g. {', '.join(keys[:EXAMPLES])})")
        return f"{self.table}: source {self.source_rows} rows, raw {self.raw_rows}; " + "; ".join(parts)


@dataclass
class ReconcileReport:
    tables: list[TableDiff]

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.tables)

    def table(self, name: str) -> TableDiff:
        return next(t for t in self.tables if t.table == name)


def _exprs(key: tuple[str, ...], columns: list[str], buckets: int) -> tuple[sql.Composable, ...]:
    keytext = sql.SQL("row({})::text").format(sql.SQL(", ").join(sql.Identifier(k) for k in key))
    rowtext = sql.SQL("md5(row({})::text)").format(sql.SQL(", ").join(sql.Identifier(c) for c in columns))
    bucket = sql.SQL("(('x' || substr(md5({}), 1, 8))::bit(32)::int & {})").format(
        keytext, sql.Literal(buckets - 1)
    )
    rowhash = sql.SQL("('x' || substr({}, 1, 15))::bit(60)::bigint").format(rowtext)
    return keytext, bucket, rowhash


def _buckets(conn: psycopg.Connection, rel: sql.Composable, where: sql.Composable, bucket, rowhash):  # type: ignore[no-untyped-def]
    rows = conn.execute(
        sql.SQL("select {b}, count(*), sum({h}) from {rel} where {w} group by 1").format(
            b=bucket, h=rowhash, rel=rel, w=where
        )
    ).fetchall()
    return {int(r[0]): (int(r[1]), int(r[2])) for r in rows}


def _rows(conn, rel, where, keytext, bucket, rowhash, wanted: list[int]) -> dict[str, int]:  # type: ignore[no-untyped-def]
    rows = conn.execute(
        sql.SQL("select {k}, {h} from {rel} where {w} and {b} = any(%s)").format(
            k=keytext, h=rowhash, rel=rel, w=where, b=bucket
        ),
        (wanted,),
    ).fetchall()
    return {r[0]: int(r[1]) for r in rows}


def reconcile_table(
    src: psycopg.Connection, wh: psycopg.Connection, schema: str, spec: TableSpec, options: ExtractOptions
) -> TableDiff:
    diff = TableDiff(table=spec.name)
    src_cols = table_columns(src, schema, spec.name)
    raw_cols = {c.name: c for c in table_columns(wh, "raw", spec.name) if c.name not in META_COLUMNS}
    if not src_cols:
        diff.problems.append(f"source table {schema}.{spec.name} not found")
        return diff
    if not raw_cols:
        diff.problems.append(f"raw.{spec.name} does not exist (run `cww extract`)")
        return diff
    missing_cols = [c.name for c in src_cols if c.name not in raw_cols]
    if missing_cols:
        diff.problems.append(f"columns not in raw: {', '.join(missing_cols)}")
    columns = [c.name for c in src_cols if c.name in raw_cols]
    keytext, bucket, rowhash = _exprs(spec.key, columns, options.reconcile_buckets)
    src_rel = sql.Identifier(schema, spec.name)
    raw_rel = sql.Identifier("raw", spec.name)
    everything, live = sql.SQL("true"), sql.SQL("not _deleted")
    a = _buckets(src, src_rel, everything, bucket, rowhash)
    b = _buckets(wh, raw_rel, live, bucket, rowhash)
    src.rollback()
    diff.source_rows = sum(v[0] for v in a.values())
    diff.raw_rows = sum(v[0] for v in b.values())
    bad = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    if not bad:
        return diff
    sa = _rows(src, src_rel, everything, keytext, bucket, rowhash, bad)
    sb = _rows(wh, raw_rel, live, keytext, bucket, rowhash, bad)
    src.rollback()
    rejected = _rejected_keys(wh, spec, src_cols)
    for k, h in sa.items():
        if k not in sb or sb[k] != h:
            if k in rejected:
                diff.rejected.append(k)
            elif k not in sb:
                diff.missing.append(k)
            else:
                diff.changed.append(k)
    diff.extra = [k for k in sb if k not in sa]
    return diff


def _rejected_keys(wh: psycopg.Connection, spec: TableSpec, src_cols: list[Column]) -> set[str]:
    """Keys held in rejected_rows, in the same text form as ``row(key…)::text``."""
    types = {c.name: c.type for c in src_cols}
    parts = sql.SQL(", ").join(
        sql.SQL("(key ->> {})::{}").format(sql.Literal(k), sql.SQL(types[k])) for k in spec.key
    )
    rows = wh.execute(
        sql.SQL("select distinct row({})::text from extract_meta.rejected_rows where table_name = %s").format(
            parts
        ),
        (spec.name,),
    ).fetchall()
    return {r[0] for r in rows}


def reconcile_tables(
    src: psycopg.Connection,
    wh: psycopg.Connection,
    schema: str,
    specs: list[TableSpec],
    options: ExtractOptions,
) -> ReconcileReport:
    src.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    return ReconcileReport([reconcile_table(src, wh, schema, s, options) for s in specs])
