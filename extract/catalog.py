"""Reading table shapes from PostgreSQL catalogs (source and warehouse alike).

The shape is read on every run rather than declared, which is what lets a new source column flow
into raw without anyone editing the registry.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

# Load metadata columns every raw table carries (contract with dbt: see notes/common.md).
META_COLUMNS = ("_batch_id", "_extracted_at", "_source_updated_at", "_deleted")


@dataclass(frozen=True)
class Column:
    """A column as PostgreSQL reports it (``format_type`` spelling, e.g. ``numeric(12,2)``)."""

    name: str
    type: str
    not_null: bool


def table_columns(conn: psycopg.Connection, schema: str, table: str) -> list[Column]:
    """Columns in table order; empty when the table does not exist (or is not visible)."""
    rows = conn.execute(
        """
        select a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
        from pg_attribute a
        join pg_class c on c.oid = a.attrelid
        join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = %s and c.relname = %s and a.attnum > 0 and not a.attisdropped
          and c.relkind in ('r', 'p', 'v', 'm', 'f')
        order by a.attnum
        """,
        (schema, table),
    ).fetchall()
    return [Column(r[0], r[1], r[2]) for r in rows]


def unique_keys(conn: psycopg.Connection, schema: str, table: str) -> list[frozenset[str]]:
    """Column sets that the source guarantees unique (primary key and plain unique indexes)."""
    rows = conn.execute(
        """
        select array(
            select a.attname from unnest(i.indkey) k(attnum)
            join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum)
        from pg_index i
        join pg_class c on c.oid = i.indrelid
        join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = %s and c.relname = %s and i.indisunique
          and i.indpred is null and i.indexprs is null
        """,
        (schema, table),
    ).fetchall()
    return [frozenset(r[0]) for r in rows]
