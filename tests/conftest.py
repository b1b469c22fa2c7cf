"""Shared fixtures: a real PostgreSQL server, and per-test databases and roles that are dropped after.

The server is ``CWW_PG_URL`` when set (CI points it at the machine's PostgreSQL), else the
project's private cluster, started on demand exactly as `cww db up` does.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from cww.postgres import Server, drop_database, drop_role, resolve_server
from cww.settings import Settings


@pytest.fixture(scope="session")
def pg_server() -> Server:
    return resolve_server(Settings())


@pytest.fixture
def cww_settings(pg_server: Server, tmp_path) -> Iterator[Settings]:
    """Settings naming fresh, unique source and warehouse databases and reader role.

    Nothing is created here; whatever the test creates under these names is dropped after.
    """
    tag = uuid.uuid4().hex[:8]
    base = Settings()
    settings = base.model_copy(
        update={
            "source_db": f"cwwt_{tag}_source",
            "warehouse_db": f"cwwt_{tag}_warehouse",
            "source_reader_role": f"cwwt_{tag}_reader",
            "role_prefix": f"cwwt_{tag}",
            "home": tmp_path / "cww_home",
        }
    )
    yield settings
    for db in (settings.source_db, settings.warehouse_db):
        drop_database(pg_server, db)
    drop_role(pg_server, settings.source_reader_role)
    with pg_server.connect() as conn:
        leftover = [
            r[0]
            for r in conn.execute("select rolname from pg_roles where rolname like %s", (f"cwwt_{tag}_%",))
        ]
    for role in leftover:
        drop_role(pg_server, role)
