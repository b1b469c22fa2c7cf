"""Streaming bulk writer: rows buffered per table, written in short COPY statements.

A family's rows span a dozen tables. Each table has its own connection and transaction (committed
together at the end); its rows are buffered up to a bounded batch and then written with one
complete COPY. Memory stays bounded by the batch sizes, and no COPY stays open waiting for the
generator: a backend blocked in `COPY FROM STDIN` does not answer the server-wide barrier that
`DROP DATABASE … WITH (FORCE)` waits for, so long-lived COPY streams would stall every other user
of a shared server. Foreign keys are dropped for the load and re-validated afterwards (see
`simulator.api`), so the order in which the connections commit does not matter.
"""

from __future__ import annotations

from contextlib import ExitStack, suppress
from typing import Any

import psycopg
from psycopg import sql

from simulator.tables import full_columns, split

BATCH = 20_000  # rows per COPY statement (≈ 4 MB of contact notes)


class CopySink:
    def __init__(self, conninfo: str, tables: list[str]) -> None:
        self._stack = ExitStack()
        self._conns: dict[str, psycopg.Connection] = {}
        self._stmts: dict[str, sql.Composed] = {}
        self._buf: dict[str, list[tuple[Any, ...]]] = {t: [] for t in tables}
        self.counts: dict[str, int] = dict.fromkeys(tables, 0)
        for t in tables:
            conn = psycopg.connect(conninfo, autocommit=False)
            self._conns[t] = conn
            self._stack.callback(conn.close)
            schema, name = split(t)
            self._stmts[t] = sql.SQL("copy {}.{} ({}) from stdin").format(
                sql.Identifier(schema),
                sql.Identifier(name),
                sql.SQL(", ").join(sql.Identifier(c) for c in full_columns(t)),
            )

    def write(self, table: str, row: tuple[Any, ...]) -> None:
        buf = self._buf[table]
        buf.append(row)
        if len(buf) >= BATCH:
            self._flush(table)

    def _flush(self, table: str) -> None:
        buf = self._buf[table]
        if not buf:
            return
        with self._conns[table].cursor() as cur, cur.copy(self._stmts[table]) as cp:
            for r in buf:
                cp.write_row(r)
        self.counts[table] += len(buf)
        buf.clear()

    def commit(self) -> None:
        """Write what is left and commit every table's transaction."""
        for t in self._buf:
            self._flush(t)
        for conn in self._conns.values():
            conn.commit()
        self._stack.close()

    def abort(self) -> None:
        """Best-effort cleanup after a failure that is already being raised."""
        with suppress(Exception):
            self._stack.close()
