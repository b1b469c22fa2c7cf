"""Reject rules → SQL predicates, evaluated set-wise in the warehouse (no per-row Python).

Each rule becomes one boolean expression that is TRUE when a row breaks it (nulls pass a range or
pattern rule: missing is not wrong, only ``not_null`` says otherwise). Rules the source already
guarantees (``not_null`` on columns declared NOT NULL there) are dropped: they cannot fire, and
skipping them spares a scan of big first loads.
"""

from __future__ import annotations

from psycopg import sql

from extract.catalog import META_COLUMNS, Column
from extract.registry import RejectRule, TableSpec


def _violation(rule: RejectRule, alias: str) -> sql.Composable:
    def col(name: str) -> sql.Composable:
        return sql.Identifier(alias, name)

    if rule.kind == "not_null":
        return sql.SQL(" or ").join(sql.SQL("{} is null").format(col(c)) for c in rule.columns)
    c = col(rule.columns[0])
    if rule.kind == "date_range":
        parts = []
        if rule.min:
            parts.append(sql.SQL("{} < {}::date").format(c, sql.Literal(rule.min)))
        if rule.max:
            parts.append(sql.SQL("{} > {}::date").format(c, sql.Literal(rule.max)))
        return sql.SQL(" or ").join(parts) if parts else sql.SQL("false")
    if rule.kind == "not_before":
        return sql.SQL("{} < {}").format(c, col(rule.other or ""))
    return sql.SQL("{} !~ {}").format(c, sql.Literal(rule.regex))


def active_rules(spec: TableSpec, source: list[Column]) -> list[RejectRule]:
    """The rules that can fire against this source shape (see module docstring)."""
    not_null = {c.name for c in source if c.not_null}
    names = {c.name for c in source}
    out = []
    for r in spec.all_rules:
        if r.kind == "not_null" and all(c in not_null for c in r.columns):
            continue
        if not all(c in names for c in r.columns) or (r.other and r.other not in names):
            continue  # drift already reports a missing key column; a vanished ruled column cannot fail
        out.append(r)
    return out


def reject_statement(spec: TableSpec, rules: list[RejectRule], target: sql.Composable) -> sql.Composable:
    """``delete`` the breaking rows from ``target`` and file them in extract_meta.rejected_rows.

    Returns one statement whose result is the number of rows rejected in this load. The first
    rule a row breaks is its reason; the whole row (source columns only) is kept as jsonb. An
    identical row already on file (re-read inside the look-back window) is not filed again.
    """
    alias = "t"
    preds = [sql.SQL("coalesce(({}), false)").format(_violation(r, alias)) for r in rules]
    reason = sql.SQL("case {} end").format(
        sql.SQL(" ").join(
            sql.SQL("when {} then {}").format(_violation(r, alias), sql.Literal(r.describe())) for r in rules
        )
    )
    key = sql.SQL("jsonb_build_object({})").format(
        sql.SQL(", ").join(
            sql.SQL("{}, {}").format(sql.Literal(k), sql.Identifier(alias, k)) for k in spec.key
        )
    )
    # to_jsonb of the whole row (jsonb_build_object is capped at 100 arguments), minus load metadata.
    row = sql.SQL("to_jsonb(t) - {}::text[]").format(sql.Literal(list(META_COLUMNS)))
    return sql.SQL(
        """
        with gone as (delete from {target} as t where {preds} returning t.*),
        filed as (
            insert into extract_meta.rejected_rows (batch_id, table_name, key, reason, row_data)
            select current_setting('cww.batch_id')::bigint, {table}, k.key, {reason}, k.row
            from gone as t, lateral (select {key} as key, {row} as row) k
            -- a row re-read by the look-back and still broken is not filed twice
            where not exists (select 1 from extract_meta.rejected_rows j
                              where j.table_name = {table} and j.key = k.key and j.row_data = k.row)
            returning 1)
        select count(*) from gone
        """
    ).format(
        target=target,
        preds=sql.SQL(" or ").join(preds),
        table=sql.Literal(spec.name),
        key=key,
        reason=reason,
        row=row,
    )
