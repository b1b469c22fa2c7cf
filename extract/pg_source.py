"""The PostgreSQL fast path: ``COPY (select …) TO STDOUT`` piped into ``COPY … FROM STDIN``.

Rows travel as the server's own text encoding, block by block, from the source connection to the
warehouse connection: Python never parses a row. A worker thread pushes to the warehouse
(psycopg's ``QueuedLibpqWriter``) while the main thread reads the source, so both servers work at
the same time.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from extract.catalog import Column, table_columns, unique_keys
from extract.faults import checkpoint
from extract.options import ExtractOptions

Progress = Callable[[int, int], None]  # rows so far, bytes so far


@dataclass(frozen=True)
class Since:
    """Rows whose ``column`` is at or after ``value`` (the watermark minus the look-back)."""

    column: str
    value: dt.datetime


@dataclass(frozen=True)
class Keys:
    """Rows with these key values (gap filling after a key comparison)."""

    columns: tuple[str, ...]
    types: tuple[str, ...]
    values: list[tuple[Any, ...]]


class PgSource:
    """A PostgreSQL source read through the reader role, one repeatable-read snapshot per table."""

    path = "copy"

    def __init__(self, conn: psycopg.Connection, schema: str, options: ExtractOptions) -> None:
        self.conn = conn
        self.schema = schema
        self.options = options
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ

    def columns(self, table: str) -> list[Column]:
        return table_columns(self.conn, self.schema, table)

    def unique_keys(self, table: str) -> list[frozenset[str]]:
        return unique_keys(self.conn, self.schema, table)

    def end_table(self) -> None:
        """Close the table's snapshot (read-only: nothing to commit)."""
        self.conn.rollback()

    def _select(self, table: str, columns: Sequence[str], where: Since | Keys | None) -> sql.Composable:
        q = sql.SQL("select {} from {}").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in columns), sql.Identifier(self.schema, table)
        )
        if isinstance(where, Since):
            q += sql.SQL(" where {} >= {}").format(sql.Identifier(where.column), sql.Literal(where.value))
        elif isinstance(where, Keys):
            arrays = sql.SQL(", ").join(
                sql.SQL("{}::{}[]").format(sql.Literal([v[i] for v in where.values]), sql.SQL(t))
                for i, t in enumerate(where.types)
            )
            q += sql.SQL(" where ({}) in (select * from unnest({}))").format(
                sql.SQL(", ").join(sql.Identifier(c) for c in where.columns), arrays
            )
        return q

    def copy_into(
        self,
        wh: psycopg.Connection,
        table: str,
        columns: Sequence[str],
        where: Since | Keys | None,
        target: sql.Composable,
        progress: Progress | None = None,
    ) -> tuple[int, int]:
        """Stream the selected rows into ``target``; returns (rows, bytes)."""
        select = self._select(table, columns, where)
        cols = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        rows = nbytes = 0
        last = time.monotonic()
        with (
            self.conn.cursor() as sc,
            wh.cursor() as wc,
            sc.copy(sql.SQL("copy ({}) to stdout").format(select)) as cin,
            wc.copy(
                sql.SQL("copy {} ({}) from stdin").format(target, cols), writer=QueuedLibpqWriter(wc)
            ) as cout,
        ):
            for block in cin:
                cout.write(block)
                rows += 1
                nbytes += len(block)
                if rows == 1:
                    checkpoint("mid_copy", self.options)
                elif rows & 0x3FFF == 0:
                    now = time.monotonic()
                    if progress and now - last > 0.25:
                        progress(rows, nbytes)
                        last = now
        if progress:
            progress(rows, nbytes)
        return rows, nbytes
