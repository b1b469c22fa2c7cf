"""The generic path: any SQLAlchemy source (SQLite, MySQL, SQL Server, Oracle …).

Rows are read with a server-side cursor in batches (``stream_results`` + ``yield_per``), so
memory stays flat whatever the table size. Unlike the PostgreSQL fast path, values do pass
through Python here, and that is where "unparseable" is decided: each value is converted to the
warehouse type declared for its column; a value that does not convert (``'2024-13-45'`` in a date
column of a loosely typed source) sends its row to ``extract_meta.rejected_rows`` with the column,
the value and the expected type. Good rows are written with COPY into the same staging table the
fast path uses, so rejects rules, merge, deletes and watermarks are shared code.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg import sql

from extract.catalog import Column
from extract.faults import checkpoint
from extract.options import ExtractOptions
from extract.pg_source import Keys, Since

BATCH = 10_000


def pg_type(t: sa.types.TypeEngine) -> str:
    """The warehouse type for a reflected source type (``format_type`` spelling)."""
    if isinstance(t, sa.SmallInteger):
        return "smallint"
    if isinstance(t, sa.BigInteger):
        return "bigint"
    if isinstance(t, sa.Integer):
        return "integer"
    if isinstance(t, sa.Float):
        return "double precision"
    if isinstance(t, sa.Numeric):
        if t.precision is not None:
            return f"numeric({t.precision},{t.scale or 0})"
        return "numeric"
    if isinstance(t, sa.DateTime):
        return "timestamp with time zone" if t.timezone else "timestamp without time zone"
    if isinstance(t, sa.Date):
        return "date"
    if isinstance(t, sa.Boolean):
        return "boolean"
    return "text"


def _to_int(v: Any) -> int:
    if isinstance(v, bool) or (isinstance(v, float) and not v.is_integer()):
        raise ValueError(v)
    if isinstance(v, str):
        return int(v.strip())
    return int(v)


def _to_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    text = str(v).strip().lower()
    if text in ("t", "true", "1", "y", "yes"):
        return True
    if text in ("f", "false", "0", "n", "no"):
        return False
    raise ValueError(v)


def _to_date(v: Any) -> dt.date:
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    return dt.date.fromisoformat(str(v).strip())


def _to_datetime(v: Any) -> dt.datetime:
    if isinstance(v, dt.datetime):
        return v
    if isinstance(v, dt.date):
        return dt.datetime(v.year, v.month, v.day)
    return dt.datetime.fromisoformat(str(v).strip())


def converter(pg: str) -> Callable[[Any], Any]:
    if pg in ("smallint", "integer", "bigint"):
        return _to_int
    if pg == "double precision":
        return float
    if pg.startswith("numeric"):
        return lambda v: decimal.Decimal(str(v).strip())
    if pg == "date":
        return _to_date
    if pg.startswith("timestamp"):
        return _to_datetime
    if pg == "boolean":
        return _to_bool
    return lambda v: v if isinstance(v, str) else str(v)


def _json_key(v: Any, pg: str) -> Any:
    """A key value as jsonb_build_object would render it, so rejected keys match warehouse keys."""
    if v is None:
        return None
    try:
        out = converter(pg)(v)
    except (ValueError, TypeError, decimal.InvalidOperation):
        return str(v)
    if isinstance(out, (dt.date, dt.datetime)):
        return out.isoformat()
    if isinstance(out, decimal.Decimal):
        return float(out)
    return out


class SqlAlchemySource:
    """A source read through SQLAlchemy; see the module docstring."""

    path = "generic"

    def __init__(self, engine: sa.Engine, schema: str | None, options: ExtractOptions) -> None:
        self.engine = engine
        self.schema = schema
        self.options = options
        self.rejected = 0
        self._tables: dict[str, sa.Table] = {}

    def _table(self, name: str) -> sa.Table | None:
        if name not in self._tables:
            try:
                self._tables[name] = sa.Table(
                    name, sa.MetaData(), schema=self.schema, autoload_with=self.engine
                )
            except sa.exc.NoSuchTableError:
                return None
        return self._tables[name]

    def columns(self, table: str) -> list[Column]:
        self._tables.pop(table, None)  # re-reflect every run: drift
        t = self._table(table)
        if t is None:
            return []
        return [Column(c.name, pg_type(c.type), not c.nullable or c.primary_key) for c in t.columns]

    def unique_keys(self, table: str) -> list[frozenset[str]]:
        t = self._table(table)
        if t is None:
            return []
        keys = [frozenset(c.name for c in t.primary_key.columns)] if len(t.primary_key.columns) else []
        keys += [
            frozenset(c.name for c in con.columns)
            for con in t.constraints
            if isinstance(con, sa.UniqueConstraint)
        ]
        return keys

    def end_table(self) -> None:
        pass

    def take_rejected(self) -> int:
        n, self.rejected = self.rejected, 0
        return n

    def copy_into(
        self,
        wh: psycopg.Connection,
        table: str,
        columns: Sequence[str],
        where: Since | Keys | None,
        target: sql.Composable,
        progress: Callable[[int, int], None] | None = None,
        *,
        binary: bool = True,
        freeze: bool = False,
    ) -> tuple[int, int]:
        """Stream rows into ``target`` in batches; unparseable rows go to rejected_rows."""
        t = self._table(table)
        assert t is not None
        types = {c.name: pg_type(c.type) for c in t.columns}
        convert = [converter(types[c]) for c in columns]
        # Raw values (no SQLAlchemy result processing): conversion, and its failures, are ours.
        stmt = sa.select(
            *[sa.literal_column(self.engine.dialect.identifier_preparer.quote(c)) for c in columns]
        )
        stmt = stmt.select_from(t)
        if isinstance(where, Since):
            value = where.value
            col = t.c[where.column]
            if isinstance(col.type, sa.DateTime) and not col.type.timezone and value.tzinfo is not None:
                value = value.astimezone(dt.UTC).replace(tzinfo=None)
            stmt = stmt.where(col >= value)
        elif isinstance(where, Keys):
            stmt = stmt.where(sa.tuple_(*[t.c[k] for k in where.columns]).in_(where.values))
        rows = nbytes = 0
        rejects: list[tuple[str, str, str]] = []
        last = time.monotonic()
        opts = " (freeze)" if freeze else ""
        into = sql.SQL("copy {} ({}) from stdin" + opts).format(
            target, sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        )
        pk = [c.name for c in t.primary_key.columns] or list(columns[:1])
        with self.engine.connect() as conn, wh.cursor() as wc, wc.copy(into) as cout:
            result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(stmt)
            for raw in result:
                good: list[Any] = []
                for name, fn, v in zip(columns, convert, raw, strict=True):
                    if v is None:
                        good.append(None)
                        continue
                    try:
                        good.append(fn(v))
                    except (ValueError, TypeError, decimal.InvalidOperation, OverflowError):
                        row = {c: (None if x is None else str(x)) for c, x in zip(columns, raw, strict=True)}
                        key = {
                            k: _json_key(raw[list(columns).index(k)], types[k]) for k in pk if k in columns
                        }
                        reason = f"unparseable value {str(v)[:60]!r} in {name} (expected {types[name]})"
                        rejects.append((json.dumps(key), reason, json.dumps(row)))
                        good = []
                        break
                if not good:
                    continue
                cout.write_row(good)
                rows += 1
                if rows % BATCH == 0:
                    checkpoint("mid_copy", self.options)
                    now = time.monotonic()
                    if progress and now - last > 0.25:
                        progress(rows, nbytes)
                        last = now
            if rows:
                checkpoint("mid_copy", self.options)
        nbytes = 0  # rows are adapted by psycopg; the wire size is not tracked on this path
        if rejects:
            with wh.cursor() as c:
                c.executemany(
                    "insert into extract_meta.rejected_rows (batch_id, table_name, key, reason, row_data) "
                    "select current_setting('cww.batch_id')::bigint, %s, %s::jsonb, %s, %s::jsonb "
                    "where not exists (select 1 from extract_meta.rejected_rows j where j.table_name = %s "
                    "and j.key = %s::jsonb and j.row_data = %s::jsonb)",
                    [(table, k, r, d, table, k, d) for k, r, d in rejects],
                )
        self.rejected += len(rejects)
        if progress:
            progress(rows, nbytes)
        return rows, nbytes
