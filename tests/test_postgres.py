"""The server resolution users rely on: external URL, private cluster, and clear failures."""

from __future__ import annotations

import shutil
import uuid

import psycopg
import pytest

from cww.postgres import (
    PostgresError,
    PrivateCluster,
    Server,
    create_database,
    database_exists,
    drop_database,
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
