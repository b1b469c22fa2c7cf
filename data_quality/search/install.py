"""Install and refresh person search in the warehouse (schema ``search`` + ``reporting.search_person``).

Why from Python and not from dbt: the nickname table comes from a Python package, the data-team
role and the function's fixed ``search_path`` depend on where the extensions live, and the search
tables are rebuilt after both duplicate matching and dbt — so one idempotent Python step, run
nightly after ``cww dbt build`` (and by ``cww search --refresh``), owns all of it.

What :func:`refresh_search` does, in one transaction (searches keep running on the old tables):

1. ``pg_trgm`` and ``fuzzystrmatch`` (both ship with PostgreSQL; created in schema ``search``
   unless the database already has them elsewhere);
2. schema ``search`` (no access for anyone but its owner), ``search.setting``, the nickname table
   (reloaded only when the ``nicknames`` package changes);
3. the functions (sql/functions.sql, sql/search_person.sql) with a fixed ``search_path``;
4. the data-team role (``cww.security.data_team_role``; created NOLOGIN here unless the
   dashboards made it their monitoring login already: its members see every agency in
   detail) and EXECUTE for it and the agency readers' group — not for PUBLIC, not for analysts;
5. the tables: the first time (or ``full=True``) built aside and swapped in, then ANALYZEd
   (sql/refresh.sql); every later night only the person records and master persons changed since
   the last refresh (sql/refresh_incremental.sql). Both fill the same row templates
   (sql/person_rows.sql, sql/history_rows.sql).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from cww.errors import CwwError
from cww.postgres import resolve_server
from cww.security import data_team_role
from cww.settings import Settings
from data_quality.search.nicknames import nickname_pairs, nicknames_version

SCHEMA = "search"
SQL_DIR = Path(__file__).resolve().parent / "sql"
EXTENSIONS = ("pg_trgm", "fuzzystrmatch")
FUNCTIONS = ("reporting.search_person(text, integer)", "reporting.search_person_for(text, integer, text)")
# Relations refresh.sql reads: dbt must have built them (and dedupe, through int_persons_mastered).
REQUIRED = (
    "staging.stg_cpin__persons",
    "staging.stg_cpin__person_addresses",
    "staging.stg_cpin__postal_regions",
    "staging.stg_cpin__cases",
    "staging.stg_cpin__case_participants",
    "staging.stg_cpin__investigations",
    "intermediate.int_persons_mastered",
    "intermediate.int_person_addresses_current",
    "marts.dim_agency",
    "marts.fct_placements",
    "reporting.agency_roles",
)

STATIC_DDL = """
create schema if not exists search;
revoke all on schema search from public;
create table if not exists search.setting (
    key text primary key,
    value text not null
);
create table if not exists search.nickname (
    name text not null,
    related text not null,
    sim real not null,
    primary key (name, related)
);
create table if not exists search.refresh_log (
    refreshed_at timestamptz not null default now(),
    persons int not null,
    master_persons int not null,
    history_rows int not null,
    vocabulary int not null,
    seconds double precision not null
);
-- newest extract batch the refresh saw: the next night's refresh starts after it
alter table search.refresh_log add column if not exists raw_batch_id bigint;
alter table search.refresh_log add column if not exists mode text;
"""


def agency_reader_role(prefix: str) -> str:
    """The group every agency login belongs to (dbt macro agency_reader_role)."""
    return f"{prefix}_agency_reader"


@dataclass
class RefreshSummary:
    persons: int
    master_persons: int
    history_rows: int
    vocabulary: int
    seconds: float
    mode: str = "full"
    touched: int | None = None  # person records rebuilt by an incremental refresh

    def lines(self) -> list[str]:
        what = "full rebuild" if self.touched is None else f"{self.touched:,} person records refreshed"
        return [
            f"person search: {self.persons:,} person records of {self.master_persons:,} master persons, "
            f"{self.history_rows:,} history rows, {self.vocabulary:,} name tokens "
            f"({what}, {self.seconds:.1f} s)"
        ]


def connect(settings: Settings) -> psycopg.Connection:
    return psycopg.connect(resolve_server(settings).conninfo(settings.warehouse_db), autocommit=False)


def _require_warehouse(conn: psycopg.Connection, db: str) -> None:
    missing = [r for r in REQUIRED if conn.execute("select to_regclass(%s)", (r,)).fetchone()[0] is None]
    if missing:
        raise CwwError(
            f"person search needs {', '.join(missing)} in warehouse {db}, which are missing. "
            "Fix: run `cww dedupe run` and `cww dbt build` first."
        )


def _ensure_extensions(conn: psycopg.Connection) -> list[str]:
    """Create the extensions (in schema search) unless present; return the schemas they live in."""
    for ext in EXTENSIONS:
        present = conn.execute("select 1 from pg_extension where extname = %s", (ext,)).fetchone()
        if not present:
            conn.execute(
                sql.SQL("create extension if not exists {} with schema {}").format(
                    sql.Identifier(ext), sql.Identifier(SCHEMA)
                )
            )
    rows = conn.execute(
        "select distinct n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace"
        " where e.extname = any(%s) order by 1",
        (list(EXTENSIONS),),
    ).fetchall()
    return [r[0] for r in rows]


def search_path(conn: psycopg.Connection, ext_schemas: list[str]) -> str:
    """`pg_catalog, <extension schemas>, pg_temp`: fixed, with pg_temp last (never first)."""
    parts = ["pg_catalog", *(sql.Identifier(s).as_string(conn) for s in ext_schemas), "pg_temp"]
    return ", ".join(parts)


def _load_nicknames(conn: psycopg.Connection) -> int:
    current = conn.execute("select value from search.setting where key = 'nicknames'").fetchone()
    wanted = nicknames_version()
    if current and current[0] == wanted:
        return int(conn.execute("select count(*) from search.nickname").fetchone()[0])
    pairs = nickname_pairs()
    conn.execute("truncate search.nickname")
    with conn.cursor().copy("copy search.nickname (name, related, sim) from stdin") as copy:
        for row in pairs:
            copy.write_row(row)
    conn.execute(
        "insert into search.setting values ('nicknames', %s)"
        " on conflict (key) do update set value = excluded.value",
        (wanted,),
    )
    conn.execute("analyze search.nickname")  # unanalysed, the planner seq-scans it on every lookup
    return len(pairs)


def _ensure_group_role(conn: psycopg.Connection, role: str) -> None:
    exists = conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()
    if exists:
        return
    # Roles are cluster-wide: a concurrent installer (another warehouse) may create it first.
    conn.execute("savepoint role")
    try:
        conn.execute(sql.SQL("create role {} nologin").format(sql.Identifier(role)))
    except psycopg.errors.DuplicateObject:
        conn.execute("rollback to savepoint role")
    else:
        conn.execute("release savepoint role")


def install(conn: psycopg.Connection, settings: Settings) -> str:
    """Everything but the data (steps 1–4 of the module docstring); returns the search_path used."""
    conn.execute("select pg_advisory_xact_lock(hashtext('cww.search.install'))")
    conn.execute(STATIC_DDL)
    path = search_path(conn, _ensure_extensions(conn))
    _load_nicknames(conn)
    conn.execute("set local check_function_bodies = off")  # tables may not exist yet (first install)
    for name in ("functions.sql", "search_person.sql"):
        conn.execute((SQL_DIR / name).read_text().replace("__SEARCH_PATH__", path))
    conn.execute("set local check_function_bodies = on")
    team = data_team_role(settings.role_prefix)
    readers = agency_reader_role(settings.role_prefix)
    _ensure_group_role(conn, team)
    conn.execute(
        "insert into search.setting values ('data_team_role', %s)"
        " on conflict (key) do update set value = excluded.value",
        (team,),
    )
    conn.execute(sql.SQL("grant usage on schema reporting to {}").format(sql.Identifier(team)))
    for fn in FUNCTIONS:
        conn.execute(sql.SQL("revoke all on function {} from public").format(sql.SQL(fn)))
        grantees = [team] + ([readers] if _role_exists(conn, readers) else [])
        conn.execute(
            sql.SQL("grant execute on function {} to {}").format(
                sql.SQL(fn), sql.SQL(", ").join(map(sql.Identifier, grantees))
            )
        )
    return path


def _role_exists(conn: psycopg.Connection, role: str) -> bool:
    return conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone() is not None


# Raw tables the search rows are built from; their `_batch_id` tells what changed since a refresh.
SOURCE_TABLES = (
    "person",
    "person_address",
    "case_participant",
    "case",
    "investigation",
    "placement",
    "provider",
    "postal_region",
)


def _sql(name: str, person_filter: str, master_filter: str, person_table: str) -> str:
    """A refresh script with its row templates (person_rows.sql, history_rows.sql) filled in.

    The full rebuild and the nightly refresh share one definition of a search row, so an
    incremental night cannot drift from what a full rebuild would produce.
    """
    text = (SQL_DIR / name).read_text()
    text = text.replace("__PERSON_ROWS__", (SQL_DIR / "person_rows.sql").read_text().rstrip().rstrip(";"))
    text = text.replace("__HISTORY_ROWS__", (SQL_DIR / "history_rows.sql").read_text().rstrip().rstrip(";"))
    text = re.sub(r"__PERSON_FILTER__\(([^()]*)\)", person_filter, text)
    text = re.sub(r"__MASTER_FILTER__\(([^()]*)\)", master_filter, text)
    return text.replace("__PERSON_TABLE__", person_table)


def _newest_batch(conn: psycopg.Connection) -> int:
    parts = sql.SQL(", ").join(
        sql.SQL("(select max(_batch_id) from {})").format(sql.Identifier("raw", t)) for t in SOURCE_TABLES
    )
    row = conn.execute(sql.SQL("select coalesce(greatest({}), 0)").format(parts)).fetchone()
    return int(row[0])


def _incremental_since(conn: psycopg.Connection) -> int | None:
    """The batch the last refresh saw, or None when tonight must rebuild everything.

    A full rebuild when: no refresh yet (or one from before batch tracking), the search tables
    are missing, or postal regions changed (every address's city may depend on them).
    """
    if conn.execute("select to_regclass('search.person') is null").fetchone()[0]:
        return None
    row = conn.execute(
        "select raw_batch_id from search.refresh_log order by refreshed_at desc limit 1"
    ).fetchone()
    if row is None or row[0] is None:
        return None
    since = int(row[0])
    regions = conn.execute("select exists (select 1 from raw.postal_region where _batch_id > %s)", (since,))
    return None if regions.fetchone()[0] else since


def refresh_search(settings: Settings, full: bool = False) -> RefreshSummary:
    """Install (idempotent) and bring the search tables up to date, in one transaction.

    Nightly (the default) only the person records and master persons that the extract batches
    since the last refresh, or tonight's matching, changed are rebuilt (sql/refresh_incremental.sql);
    ``full=True`` — or no usable previous refresh — rebuilds everything aside and swaps it in.
    """
    start = time.perf_counter()
    with connect(settings) as conn:
        _require_warehouse(conn, settings.warehouse_db)
        path = install(conn, settings)
        conn.execute("select pg_advisory_xact_lock(hashtext('cww.search.refresh'))")
        conn.execute(sql.SQL("set local search_path = {}").format(sql.SQL(path)))
        conn.execute("set local maintenance_work_mem = '256MB'")
        newest = _newest_batch(conn)
        since = None if full else _incremental_since(conn)
        touched: int | None = None
        if since is None:
            conn.execute(_sql("refresh.sql", "true", "true", "search.person__new"))
            for table in ("person", "vocab", "place", "history", "agency", "nickname"):
                conn.execute(sql.SQL("analyze {}.{}").format(sql.Identifier(SCHEMA), sql.Identifier(table)))
        else:
            conn.execute(
                _sql(
                    "refresh_incremental.sql",
                    r"\1 in (select person_id from _search_touched)",
                    r"\1 in (select master_person_id from _search_masters)",
                    "search.person",
                ).replace("__SINCE__", str(since))
            )
            touched = int(conn.execute("select count(*) from _search_touched").fetchone()[0])
        persons, masters = conn.execute(
            "select count(*), count(distinct master_person_id) from search.person"
        ).fetchone()
        history = conn.execute("select count(*) from search.history").fetchone()[0]
        vocab = conn.execute("select count(*) from search.vocab").fetchone()[0]
        seconds = time.perf_counter() - start
        mode = "full" if since is None else "incremental"
        conn.execute(
            "insert into search.refresh_log (persons, master_persons, history_rows, vocabulary, seconds,"
            " raw_batch_id, mode) values (%s, %s, %s, %s, %s, %s, %s)",
            (persons, masters, history, vocab, seconds, newest, mode),
        )
    return RefreshSummary(int(persons), int(masters), int(history), int(vocab), seconds, mode, touched)
