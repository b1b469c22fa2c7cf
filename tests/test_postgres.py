"""The server resolution users rely on: external URL, private cluster, and clear failures."""

from __future__ import annotations

import shutil
import uuid

import psycopg
import pytest

from cww.errors import CwwError
from cww.postgres import (
    PostgresError,
    PrivateCluster,
    Server,
    clone_database,
    create_database,
    database_exists,
    drop_database,
    drop_roles_with_prefix,
    resolve_server,
)
from cww.settings import PROJECT_ROOT, Settings


def test_unreachable_url_is_one_clear_line() -> None:
    settings = Settings(pg_url="postgresql://nobody:secret@127.0.0.1:1")
    with pytest.raises(PostgresError) as err:
        resolve_server(settings)
    message = str(err.value)
    assert "\n" not in message
    assert "CWW_PG_URL" in message and "Fix:" in message
    assert "secret" not in message  # the password is never echoed


def test_create_and_drop_database(pg_server: Server) -> None:
    name = f"cwwt_{uuid.uuid4().hex[:8]}_x"
    create_database(pg_server, name)
    try:
        assert database_exists(pg_server, name)
        with pg_server.connect(name) as conn:
            assert conn.execute("select current_database()").fetchone() == (name,)
    finally:
        drop_database(pg_server, name)
    assert not database_exists(pg_server, name)


def test_clone_database_copies_and_refuses_a_busy_template(pg_server: Server) -> None:
    template, copy = f"cwwt_tpl_{uuid.uuid4().hex[:8]}", f"cwwt_copy_{uuid.uuid4().hex[:8]}"
    create_database(pg_server, template)
    try:
        with pg_server.connect(template) as conn:
            conn.execute("create table t as select generate_series(1, 3) as n")
        assert clone_database(pg_server, template, copy) >= 0
        with pg_server.connect(copy) as conn:
            assert conn.execute("select sum(n) from t").fetchone() == (6,)
        with pg_server.connect(template), pytest.raises(CwwError, match="others stay connected"):
            clone_database(pg_server, template, copy, attempts=2, wait=0.1)
    finally:
        drop_database(pg_server, copy)
        drop_database(pg_server, template)


def test_drop_roles_with_prefix_drops_only_that_prefix(pg_server: Server) -> None:
    prefix = f"cwwt_{uuid.uuid4().hex[:6]}"
    mine, other = [f"{prefix}_agency_x", f"{prefix}_analyst"], f"{prefix}x_keep"
    with pg_server.connect() as conn:
        for role in [*mine, other]:
            conn.execute(f'create role "{role}"')
    try:
        drop_roles_with_prefix(pg_server, prefix)
        with pg_server.connect() as conn:
            left = {r[0] for r in conn.execute("select rolname from pg_roles where rolname like 'cwwt_%'")}
        assert not set(mine) & left and other in left
    finally:
        with pg_server.connect() as conn:
            conn.execute(f'drop role if exists "{other}"')


def test_private_cluster_starts_recovers_and_stops() -> None:
    # Under the project folder: as root the cluster runs as `postgres`, who cannot enter pytest tmp dirs.
    root = PROJECT_ROOT / ".cww" / f"test-cluster-{uuid.uuid4().hex[:6]}"
    cluster = PrivateCluster(root, preferred_port=0)
    cluster.preferred_port = cluster._free_port()
    try:
        server = cluster.start()
        with psycopg.connect(server.conninfo("postgres")) as conn:
            assert conn.execute("show listen_addresses").fetchone() == ("127.0.0.1",)
        # Starting again while it runs is a no-op returning the same server.
        assert cluster.start().url == server.url
        assert cluster.stop()
        assert not cluster.is_running()
        # A pid file left by a crash does not stop the next start.
        (cluster.data / "postmaster.pid").write_text("999999\n")
        server = cluster.start()
        assert cluster.is_running()
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
