"""Shared fixtures: a real PostgreSQL server, and per-test databases and roles that are dropped after.

The server is ``CWW_PG_URL`` when set (CI points it at the machine's PostgreSQL), else the
project's private cluster, started on demand exactly as `cww db up` does.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cww.postgres import Server, drop_database, drop_role, resolve_server
from cww.settings import Settings


@pytest.fixture(scope="session")
def pg_server() -> Server:
    return resolve_server(Settings())


def _throwaway_settings(home: Path) -> Settings:
    """Settings naming fresh, unique source/warehouse databases and roles (nothing is created)."""
    tag = uuid.uuid4().hex[:8]
    return Settings().namespaced(f"cwwt_{tag}", home)


def _drop_throwaway(server: Server, settings: Settings) -> None:
    """Drop both databases and every cluster-wide role the test created under its prefix."""
    for db in (settings.source_db, settings.warehouse_db):
        drop_database(server, db)
    drop_role(server, settings.source_reader_role)
    with server.connect() as conn:
        leftover = [
            r[0]
            for r in conn.execute(
                "select rolname from pg_roles where rolname like %s", (f"{settings.role_prefix}_%",)
            )
        ]
    for role in leftover:
        drop_role(server, role)


@pytest.fixture
def cww_settings(pg_server: Server, tmp_path: Path) -> Iterator[Settings]:
    """Throwaway settings for one test; whatever it creates under these names is dropped after."""
    settings = _throwaway_settings(tmp_path / "cww_home")
    yield settings
    _drop_throwaway(pg_server, settings)


@pytest.fixture(scope="module")
def module_settings(pg_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Throwaway settings shared by a module (for a pipeline built once per module), dropped after."""
    settings = _throwaway_settings(tmp_path_factory.mktemp("cww") / "cww_home")
    yield settings
    _drop_throwaway(pg_server, settings)


# --------------------------------------------------------------------------- extraction (extract/)

EXTRACT_SEED_SQL = """
insert into cpin.agency values
  (1, 'CAS-OTT', 'Ottawa CAS', 'East', false, '2020-01-01', 1,
   '2026-01-01 09:00+00', '2026-01-01 09:00+00', false),
  (2, 'CAS-TOR', 'Toronto CAS', 'Toronto', false, '2021-01-01', 2,
   '2026-01-01 09:00+00', '2026-01-01 09:00+00', false);
insert into cpin.office values
  (10, 1, 'Ottawa main', '1 Main St', 'Ottawa', 'K1A0B1',
   '2026-01-01 09:00+00', '2026-01-01 09:00+00', false),
  (20, 2, 'Toronto main', '2 King St', 'Toronto', 'M5H2N2',
   '2026-01-01 09:00+00', '2026-01-01 09:00+00', false);
insert into cpin.worker values
  (100, 1, 10, 'Ada', 'Lovelace', 'CW', null, '2019-05-01', null,
   '2026-01-01 09:00+00', '2026-01-01 09:00+00', false),
  (200, 2, 20, 'Grace', 'Hopper', 'SUP', null, '2018-03-01', null,
   '2026-01-01 09:00+00', '2026-01-01 09:00+00', false);
insert into cpin.postal_region values
  ('K1A', 'Ottawa', 'East'), ('M5H', 'Toronto', 'Toronto'), ('P3A', 'Sudbury', 'North');
insert into cpin.person (person_id, agency_id, given_name, surname, birth_date, sex_code, source_code,
                         created_at, updated_at) values
  (1000, 1, 'Liam', 'Tremblay', '2015-04-02', 'M', 'CPIN', '2026-01-02 10:00+00', '2026-01-02 10:00+00'),
  (1001, 1, 'Emma', 'Tremblay', '2017-09-12', 'F', 'CPIN', '2026-01-02 10:00+00', '2026-01-02 10:00+00'),
  (1002, 2, 'Noah', 'Singh', '2012-01-30', 'M', 'MIG', '2026-01-03 10:00+00', '2026-01-03 10:00+00'),
  (1003, 2, 'Olivia', 'Singh', null, 'F', 'MIG', '2026-01-03 10:00+00', '2026-01-03 10:00+00');
insert into cpin."case" values
  (5000, 1, 'PROT', null, '2026-01-02', null, null, 100,
   '2026-01-02 10:00+00', '2026-01-02 10:00+00', false),
  (5001, 2, 'PROT', null, '2026-01-03', null, null, 200,
   '2026-01-03 10:00+00', '2026-01-03 10:00+00', false);
insert into cpin.case_participant values
  (5000, 1000, 'CHILD', '2026-01-02', null, '2026-01-02 10:00+00', '2026-01-02 10:00+00', false),
  (5000, 1001, 'CHILD', '2026-01-02', null, '2026-01-02 10:00+00', '2026-01-02 10:00+00', false),
  (5001, 1002, 'CHILD', '2026-01-03', null, '2026-01-03 10:00+00', '2026-01-03 10:00+00', false);
insert into cpin.contact_note (contact_note_id, agency_id, case_id, person_id, worker_id, contact_at,
                               contact_type_code, note_text, created_at, updated_at)
select 90000 + g, 1, 5000, 1000, 100, '2026-01-04 10:00+00'::timestamptz + g * interval '1 hour', 'INP',
       'visit ' || g || E' with a tab\\tand a newline\\n and ''quotes''', '2026-01-04 12:00+00',
       '2026-01-04 12:00+00'
from generate_series(1, 5) g;
"""


@pytest.fixture
def extract_source(pg_server: Server, cww_settings: Settings) -> Settings:
    """A source database with simulator/schema.sql, a few coherent hand-made rows, and the
    read-only reader role the pipeline uses (the warehouse database is left to the extractor)."""
    from cww.postgres import create_database, ensure_login_role, grant_read_only
    from cww.settings import PROJECT_ROOT

    create_database(pg_server, cww_settings.source_db)
    with pg_server.connect(cww_settings.source_db) as conn:
        conn.execute((PROJECT_ROOT / "simulator" / "schema.sql").read_text())
        conn.execute(EXTRACT_SEED_SQL)
    ensure_login_role(pg_server, cww_settings.source_reader_role, cww_settings.source_reader_password)
    s = cww_settings
    grant_read_only(pg_server, s.source_db, s.source_schema, s.source_reader_role)
    return cww_settings


# --------------------------------------------------------------------------- dbt (issue 4)


def create_raw_tables(server: Server, database: str) -> list[str]:
    """Create schema raw exactly as extract/ lands it: the source tables of simulator/schema.sql
    plus the load metadata columns (contract in notes/common.md). Returns the table names."""
    from pathlib import Path

    schema_sql = (Path(__file__).resolve().parent.parent / "simulator" / "schema.sql").read_text()
    with server.connect(database) as conn:
        conn.execute(schema_sql)
        tables = [
            r[0]
            for r in conn.execute(
                "select table_name from information_schema.tables where table_schema = 'cpin' order by 1"
            )
        ]
        conn.execute("create schema raw")
        for t in tables:
            conn.execute(
                f'create table raw."{t}" (like cpin."{t}" including defaults including indexes,'
                " _batch_id bigint not null default 1, _extracted_at timestamptz not null default now(),"
                " _source_updated_at timestamptz, _deleted boolean not null default false)"
            )
            cols = {
                r[0]
                for r in conn.execute(
                    "select column_name from information_schema.columns"
                    " where table_schema = 'raw' and table_name = %s",
                    (t,),
                )
            }
            if "updated_at" in cols:
                for col in ("updated_at", "created_at"):
                    conn.execute(
                        f"alter table raw.\"{t}\" alter column {col} set default '2024-06-30 10:00+00'"
                    )
        for schema in ("cpin", "truth", "sim"):  # only raw stays: the warehouse never sees the rest
            conn.execute(f"drop schema if exists {schema} cascade")
    return tables


@pytest.fixture(scope="session")
def dbt_hand_warehouse(pg_server: Server, tmp_path_factory) -> Iterator[Settings]:
    """A warehouse built once per session by dbt (in-process) from hand-made raw rows
    (tests/test_dbt_fixture.sql, as-of 2024-06-30), for tests that assert hand-worked values."""
    from pathlib import Path

    from cww.postgres import create_database
    from cww.transform import build

    tag = uuid.uuid4().hex[:8]
    settings = Settings().namespaced(f"cwwt_{tag}", tmp_path_factory.mktemp("dbt_hand") / "cww_home")
    try:
        create_database(pg_server, settings.warehouse_db)
        tables = create_raw_tables(pg_server, settings.warehouse_db)
        fixture_sql = (Path(__file__).resolve().parent / "test_dbt_fixture.sql").read_text()
        with pg_server.connect(settings.warehouse_db) as conn:
            conn.execute(fixture_sql)
            for t in tables:
                if t != "postal_region":
                    conn.execute(f'update raw."{t}" set _source_updated_at = updated_at')
        build(settings)
        yield settings
    finally:
        drop_database(pg_server, settings.warehouse_db)
        with pg_server.connect() as conn:
            leftover = [
                r[0]
                for r in conn.execute(
                    "select rolname from pg_roles where rolname like %s", (f"cwwt_{tag}_%",)
                )
            ]
        for role in leftover:
            drop_role(pg_server, role)
