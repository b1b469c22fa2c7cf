"""The simulator's library API (the CLI, Dagster and the tests all call these).

- `init_source(settings, preset, seed, force=False, as_of=None)`: create the source database and
  build its history up to `as_of`. A pure function of (preset, seed, as_of): the same arguments
  give the same database, row for row.
- `advance(settings, days)`: move the clock forward one simulated day per transaction.
- `status(settings)`: the clock and the number of rows per table.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from cww.console import console, progress
from cww.errors import CwwError
from cww.postgres import (
    Server,
    create_database,
    database_exists,
    drop_database,
    ensure_login_role,
    grant_read_only,
    resolve_server,
)
from cww.settings import Settings
from simulator.build import PENDING_TABLE, generate
from simulator.clock import day_of, to_date
from simulator.copysink import CopySink
from simulator.presets import get_preset
from simulator.tables import COLUMNS, ID_TABLES, split
from simulator.world import World

SCHEMA_SQL = Path(__file__).with_name("schema.sql")
LOAD_TABLES = [*COLUMNS, PENDING_TABLE]


@dataclass
class Summary:
    """What a simulator command did, for people (lines) and programs (fields)."""

    database: str
    preset: str
    seed: int
    clock: date
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [f"source {self.database}: preset {self.preset}, seed {self.seed}, clock {self.clock}"]
        out += [f"  {t:<28} {n:>12,}" for t, n in self.rows.items()]
        out.append(f"  built in {self.seconds:.1f} s")
        return out


# --------------------------------------------------------------------------- init


def init_source(
    settings: Settings, preset: str, seed: int, force: bool = False, as_of: date | None = None
) -> Summary:
    """Create the source database and simulate its history up to `as_of` (default: today)."""
    p = get_preset(preset)
    as_of = as_of or date.today()
    server = resolve_server(settings)
    db = settings.source_db
    if database_exists(server, db) and not force:
        raise CwwError(
            f"source database {db!r} already exists on {server.display()}. Re-run with --force "
            "(`cww simulate init … --force`) to drop and rebuild it, or `cww simulate advance` to move it on."
        )
    start = time.perf_counter()
    create_database(server, db, drop_existing=True)
    try:
        rows, extra = _build(server, db, p.name, seed, day_of(as_of))
        ensure_login_role(server, settings.source_reader_role, settings.source_reader_password)
        grant_read_only(server, db, settings.source_schema, settings.source_reader_role)
    except BaseException:
        # Never leave a half-built source behind: the next init would refuse it without --force.
        drop_database(server, db)
        raise
    return Summary(db, p.name, seed, as_of, rows, time.perf_counter() - start, extra)


def _constraint_and_index_ddl(
    conn: psycopg.Connection,
) -> tuple[list[sql.Composable], list[sql.Composable], list[str]]:
    """Foreign keys and secondary indexes of the source schemas: (drop, create, create-index)."""
    drops: list[sql.Composable] = []
    adds: list[sql.Composable] = []
    fks = conn.execute(
        """select n.nspname, c.relname, k.conname, pg_get_constraintdef(k.oid)
             from pg_constraint k join pg_class c on c.oid = k.conrelid
             join pg_namespace n on n.oid = c.relnamespace
            where k.contype = 'f' and n.nspname in ('cpin', 'truth', 'sim') order by 1, 2, 3"""
    ).fetchall()
    for schema, table, name, definition in fks:
        rel = sql.Identifier(schema, table)
        drops.append(sql.SQL("alter table {} drop constraint {}").format(rel, sql.Identifier(name)))
        adds.append(
            sql.SQL("alter table {} add constraint {} " + definition).format(rel, sql.Identifier(name))
        )
    idx = conn.execute(
        """select i.schemaname, i.indexname, i.indexdef from pg_indexes i
            where i.schemaname in ('cpin', 'truth', 'sim')
              and not exists (select 1 from pg_constraint k where k.conname = i.indexname
                               and k.connamespace = i.schemaname::regnamespace)
            order by 1, 2"""
    ).fetchall()
    for schema, name, _ in idx:
        drops.append(sql.SQL("drop index {}").format(sql.Identifier(schema, name)))
    return drops, adds, [d for _, _, d in idx]


def _build(
    server: Server, db: str, preset: str, seed: int, as_of: int
) -> tuple[dict[str, int], dict[str, Any]]:
    with server.connect(db) as conn:
        conn.execute(SCHEMA_SQL.read_text())
        drops, fk_adds, index_defs = _constraint_and_index_ddl(conn)
        for stmt in drops:
            conn.execute(stmt)
    world = World(get_preset(preset), seed, as_of)
    sink = CopySink(server.conninfo(db), LOAD_TABLES)
    started = time.perf_counter()
    try:
        with progress() as prog:
            task = prog.add_task(f"simulating {preset}", total=None, detail="")

            def on_progress(done: int, total: int) -> None:
                n = sum(sink.counts.values())
                rate = n / max(1e-6, time.perf_counter() - started)
                prog.update(
                    task,
                    completed=done,
                    total=total,
                    detail=f"{n:,} rows · {sink.counts['cpin.contact_note']:,} notes · {rate:,.0f} rows/s",
                )

            extra = generate(world, sink, on_progress)
            prog.update(task, detail="committing")
            sink.commit()
    except BaseException:
        sink.abort()
        raise
    extra["generate_seconds"] = round(time.perf_counter() - started, 1)
    t_index = time.perf_counter()
    with server.connect(db) as conn:
        with console.status("indexes and foreign keys"):
            for d in index_defs:
                conn.execute(d)
            for stmt in fk_adds:
                conn.execute(stmt)
            conn.execute("analyze")
        conn.execute(
            "insert into sim.state (preset, seed, init_as_of, clock) values (%s, %s, %s, %s)",
            (preset, seed, to_date(as_of), to_date(as_of)),
        )
        with conn.cursor() as cur:
            cur.executemany(
                "insert into sim.id_counter (table_name, next_id) values (%s, %s)",
                sorted(world.ids.next.items()),
            )
            cur.execute("insert into sim.id_counter values ('sim.pending', %s)", (extra["pending_seq"] + 1,))
    extra["index_seconds"] = round(time.perf_counter() - t_index, 1)
    return table_counts(server, db), extra


# --------------------------------------------------------------------------- status


def table_counts(server: Server, db: str) -> dict[str, int]:
    out: dict[str, int] = {}
    with server.connect(db) as conn:
        for t in LOAD_TABLES:
            schema, name = split(t)
            n = conn.execute(
                sql.SQL("select count(*) from {}").format(sql.Identifier(schema, name))
            ).fetchone()
            out[t] = int(n[0]) if n else 0
    return out


def read_state(conn: psycopg.Connection, db: str) -> tuple[str, int, date, date]:
    try:
        row = conn.execute("select preset, seed, init_as_of, clock from sim.state").fetchone()
    except psycopg.errors.UndefinedTable:
        row = None
    if row is None:
        raise CwwError(f"database {db!r} is not a simulated source (no sim.state). Fix: `cww simulate init`.")
    return row[0], int(row[1]), row[2], row[3]


def status(settings: Settings) -> Summary:
    server = resolve_server(settings)
    db = settings.source_db
    if not database_exists(server, db):
        raise CwwError(
            f"source database {db!r} does not exist on {server.display()}. Fix: `cww simulate init`."
        )
    with server.connect(db) as conn:
        preset, seed, _, clock = read_state(conn, db)
    return Summary(db, preset, seed, clock, table_counts(server, db))


def advance(settings: Settings, days: int) -> Summary:
    """Move the simulated world forward `days` days, one transaction per day."""
    from simulator.advance import advance_days

    if days < 1:
        raise CwwError(f"advance needs a positive number of days, got {days}.")
    server = resolve_server(settings)
    db = settings.source_db
    if not database_exists(server, db):
        raise CwwError(
            f"source database {db!r} does not exist on {server.display()}. Fix: `cww simulate init`."
        )
    start = time.perf_counter()
    with server.connect(db, autocommit=False) as conn:
        preset, seed, init_as_of, _ = read_state(conn, db)
        conn.rollback()
        totals = advance_days(conn, get_preset(preset), seed, day_of(init_as_of), days)
        _, _, _, clock = read_state(conn, db)
        conn.rollback()
    s = Summary(db, preset, seed, clock, table_counts(server, db), time.perf_counter() - start, totals)
    return s


__all__ = ["ID_TABLES", "Summary", "advance", "init_source", "status"]
