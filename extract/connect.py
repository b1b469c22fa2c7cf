"""Connections: the source through the read-only reader role, the warehouse as its owner.

Connection failures are the one kind of error worth retrying (the source may be restarting for
its own nightly maintenance), so they are retried here with back-off and then raised as
``SourceUnavailableError``, a one-line error naming the server, database, role and fix.
"""

from __future__ import annotations

import time

import psycopg
from sqlalchemy.engine import make_url

from cww.errors import CwwError
from cww.postgres import Server, create_database, database_exists, resolve_server
from cww.settings import Settings
from extract.options import ExtractOptions


class SourceUnavailableError(CwwError):
    """The source could not be reached (after retries); nothing was changed in the warehouse."""


class WarehouseUnavailableError(CwwError):
    """The warehouse could not be reached."""


def _session_setup(conn: psycopg.Connection) -> None:
    # Timestamps travel as text in COPY: one time zone on both ends keeps them identical.
    conn.execute("set timezone = 'UTC'")
    conn.execute("set datestyle = 'ISO, YMD'")
    conn.execute("set extra_float_digits = 3")
    conn.execute("set jit = off")  # compiling expressions costs more than these statements save


def source_conninfo(settings: Settings, server: Server, options: ExtractOptions) -> str:
    """libpq string for the reader role on the source database."""
    if options.source_pg_url:
        u = make_url(options.source_pg_url)
        return psycopg.conninfo.make_conninfo(
            host=u.host or "127.0.0.1",
            port=str(u.port or 5432),
            user=settings.source_reader_role,
            password=settings.source_reader_password,
            dbname=settings.source_db,
            connect_timeout=str(options.connect_timeout_seconds),
        )
    base = server.conninfo(settings.source_db, settings.source_reader_role, settings.source_reader_password)
    return psycopg.conninfo.make_conninfo(base, connect_timeout=str(options.connect_timeout_seconds))


def connect_source(settings: Settings, server: Server, options: ExtractOptions) -> psycopg.Connection:
    """A read-only connection to the source, retried with exponential back-off."""
    conninfo = source_conninfo(settings, server, options)
    where = psycopg.conninfo.conninfo_to_dict(conninfo)
    delay = options.connect_backoff_seconds
    last = ""
    for attempt in range(1, max(1, options.connect_attempts) + 1):
        try:
            conn = psycopg.connect(conninfo, autocommit=False)
            _session_setup(conn)
            conn.commit()
            conn.read_only = True
            return conn
        except psycopg.OperationalError as exc:
            last = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
            if attempt < options.connect_attempts:
                time.sleep(delay)
                delay *= 2
    raise SourceUnavailableError(
        f"cannot reach the source database {settings.source_db} at {where.get('host')}:{where.get('port')} "
        f"as {settings.source_reader_role} after {options.connect_attempts} attempts: {last}. "
        "Nothing was loaded and no watermark moved. Fix: start the source server or correct "
        "CWW_PG_URL / CWW_EXTRACT_SOURCE_PG_URL / CWW_SOURCE_READER_PASSWORD, then re-run."
    )


def connect_warehouse(settings: Settings, server: Server | None = None) -> psycopg.Connection:
    """A connection to the warehouse (created if missing), in explicit-transaction mode."""
    server = server or resolve_server(settings)
    try:
        if not database_exists(server, settings.warehouse_db):
            create_database(server, settings.warehouse_db)
        conn = psycopg.connect(server.conninfo(settings.warehouse_db), autocommit=True)
    except psycopg.OperationalError as exc:
        raise WarehouseUnavailableError(
            f"cannot reach the warehouse database {settings.warehouse_db} at {server.display()}: "
            f"{str(exc).strip().splitlines()[-1]}. Fix: `cww db up` or correct CWW_PG_URL."
        ) from exc
    _session_setup(conn)
    return conn
