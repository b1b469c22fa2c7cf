"""Streaming bulk writer: one COPY per table, all open at once, fed in small batches.

A family's rows span a dozen tables; keeping one COPY open per table (each on its own connection)
lets the generator stream rows as it produces them, with memory bounded by the batch size, while
PostgreSQL parses them on the other core. Foreign keys are dropped for the load and re-validated
afterwards (see `simulator.build`), so the order in which the connections commit does not matter.
"""

from __future__ import annotations

from contextlib import ExitStack, suppress
from typing import Any

import psycopg
from psycopg import sql

from simulator.tables import full_columns, split

BATCH = 2_000


class CopySink:
    def __init__(self, conninfo: str, tables: list[str]) -> None:
        self._stack = ExitStack()  # connections
        self._copy_stack = ExitStack()  # the COPY contexts (they hold each connection's lock)
        # The copy() context manager holds its connection's lock until it exits: the copies get
        # their own stack, closed before any commit (commit would otherwise wait on that lock forever).
        self._copy_stack = ExitStack()
        self._conns: list[psycopg.Connection] = []
        self._copies: dict[str, Any] = {}
        self._buf: dict[str, list[tuple[Any, ...]]] = {t: [] for t in tables}
        self.counts: dict[str, int] = dict.fromkeys(tables, 0)
        for t in tables:
            conn = psycopg.connect(conninfo, autocommit=False)
            self._conns.append(conn)
            self._stack.callback(conn.close)
            schema, name = split(t)
            stmt = sql.SQL("copy {}.{} ({}) from stdin").format(
                sql.Identifier(schema),
                sql.Identifier(name),
                sql.SQL(", ").join(sql.Identifier(c) for c in full_columns(t)),
            )
            cur = conn.cursor()
            self._copies[t] = self._copy_stack.enter_context(cur.copy(stmt))

    def write(self, table: str, row: tuple[Any, ...]) -> None:
        buf = self._buf[table]
        buf.append(row)
        if len(buf) >= BATCH:
            self._flush(table)

    def _flush(self, table: str) -> None:
        buf = self._buf[table]
        cp = self._copies[table]
        for r in buf:
            cp.write_row(r)
        self.counts[table] += len(buf)
        buf.clear()

    def commit(self) -> None:
        """Finish every COPY and commit each connection."""
        for t in self._buf:
            self._flush(t)
        self._copies.clear()
        self._copy_stack.close()  # ends every COPY and releases the connection locks
        for conn in self._conns:
            conn.commit()
        self._stack.pop_all()
        for conn in self._conns:
            conn.close()

    def abort(self) -> None:
        """Best-effort cleanup after a failure that is already being raised."""
        for stack in (self._copy_stack, self._stack):
            with suppress(Exception):
                stack.close()
