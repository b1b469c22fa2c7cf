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
from psycopg import pq, sql
from psycopg.copy import QueuedLibpqWriter

from extract.catalog import Column, table_columns, unique_keys
from extract.faults import checkpoint
from extract.options import ExtractOptions

BUFFER = 1 << 20  # bytes handed to the warehouse per write

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

    def _copy_out(
        self, table: str, columns: Sequence[str], where: Since | Keys | None, binary: bool
    ) -> bytes:
        """The COPY … TO STDOUT statement (a whole table is copied as a table: no executor overhead)."""
        fmt = sql.SQL(" (format binary)" if binary else "")
        if where is None:
            stmt = sql.SQL("copy {} ({}) to stdout{}").format(
                sql.Identifier(self.schema, table),
                sql.SQL(", ").join(sql.Identifier(c) for c in columns),
                fmt,
            )
        else:
            stmt = sql.SQL("copy ({}) to stdout{}").format(self._select(table, columns, where), fmt)
        return stmt.as_bytes(self.conn)

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
        *,
        binary: bool = True,
        freeze: bool = False,
    ) -> tuple[int, int]:
        """Stream the selected rows into ``target``; returns (rows, bytes).

        ``binary`` (the default) moves PostgreSQL's binary COPY format, which spares both servers
        formatting and parsing text (dates, timestamps, numbers); it needs identical column types
        on both ends, which staging tables always have. ``freeze`` writes rows already frozen,
        allowed when the target was created or truncated in this transaction (first loads).

        The source side talks libpq directly (``PQgetCopyData`` in a tight loop, rows gathered
        into ~1 MB buffers): psycopg's per-row ``Copy`` iterator costs several microseconds a row,
        which is most of the time on a multi-million-row table.
        """
        statement = self._copy_out(table, columns, where, binary)
        opts = [o for o, on in (("format binary", binary), ("freeze", freeze)) if on]
        into = sql.SQL("copy {} ({}) from stdin{}").format(
            target,
            sql.SQL(", ").join(sql.Identifier(c) for c in columns),
            sql.SQL(f" ({', '.join(opts)})" if opts else ""),
        )
        if self.conn.info.transaction_status == pq.TransactionStatus.IDLE:
            self.conn.execute("select 1")  # open the table's repeatable-read snapshot
        pg = self.conn.pgconn
        rows = nbytes = 0
        last = time.monotonic()
        with (
            wh.cursor() as wc,
            wc.copy(into, writer=QueuedLibpqWriter(wc)) as cout,
        ):
            pg.send_query(statement)
            res = pg.get_result()
            if res is None or res.status != pq.ExecStatus.COPY_OUT:
                self._drain()
                raise psycopg.DatabaseError(_message(res, pg, f"reading {self.schema}.{table}"))
            get = pg.get_copy_data
            buf = bytearray()
            try:
                while True:
                    n, data = get(0)
                    if n < 0:
                        if n == -2:
                            raise psycopg.OperationalError(
                                _message(None, pg, f"reading {self.schema}.{table}")
                            )
                        break
                    buf += data
                    rows += 1
                    if len(buf) >= BUFFER:
                        cout.write(buf)
                        nbytes += len(buf)
                        buf = bytearray()
                        checkpoint("mid_copy", self.options)
                        now = time.monotonic()
                        if progress and now - last > 0.25:
                            progress(rows, nbytes)
                            last = now
                if buf:
                    cout.write(buf)
                    nbytes += len(buf)
                    checkpoint("mid_copy", self.options)
            except BaseException:
                self._abort()
                raise
            final = pg.get_result()
            self._drain()
            if final is None or final.status != pq.ExecStatus.COMMAND_OK:
                raise psycopg.DatabaseError(_message(final, pg, f"reading {self.schema}.{table}"))
            # The server's own count ("COPY n"): messages are not rows in binary format.
            rows = int((final.command_status or b"COPY 0").split()[-1])
        if progress:
            progress(rows, nbytes)
        return rows, nbytes

    def _drain(self) -> None:
        pg = self.conn.pgconn
        while pg.get_result() is not None:
            pass

    def _abort(self) -> None:
        """Stop a COPY that is half read, so the connection can roll back and go on."""
        if self.conn.broken:
            return
        pg = self.conn.pgconn
        try:
            self.conn.cancel_safe(timeout=5)
            while pg.get_copy_data(0)[0] >= 0:
                pass
            self._drain()
        except psycopg.Error:
            pass


def _message(res: pq.abc.PGresult | None, pg: pq.abc.PGconn, doing: str) -> str:
    raw = (res.error_message if res is not None else b"") or pg.error_message or b"unknown error"
    return f"{doing}: {raw.decode(errors='replace').strip()}"
