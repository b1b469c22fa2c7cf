"""Finding, starting and administering the PostgreSQL server the warehouse runs on.

Nobody should have to install or configure PostgreSQL to try the project. Resolution order:

1. ``CWW_PG_URL`` names a server: use it (and fail in one line if it cannot be reached).
2. Otherwise run a *private cluster* under ``$CWW_HOME/pg`` on a free local port, with the
   system's PostgreSQL binaries (as root through the ``postgres`` system user, because initdb
   refuses to run as root), or with the pip package ``pgserver`` for a non-root user who has no
   binaries. Which one was chosen is always reported.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from cww.errors import CwwError
from cww.settings import Settings, get_settings


class PostgresError(CwwError):
    """A PostgreSQL problem explained in one line, with the fix; the CLI prints it as is."""


class ServerUnreachableError(PostgresError):
    """The configured server did not answer: down, restarting, or the network in between."""


# SQLSTATEs of a server going away: connection exceptions (class 08) and the shutdown family.
_CONNECTION_LOSS_STATES = ("08", "57P01", "57P02", "57P03")
# A failed connection attempt carries no SQLSTATE in psycopg, only libpq's text. These say the
# server was not there or went away; "database does not exist" or a refused password do not.
_CONNECTION_LOSS_TEXTS = (
    "connection refused",
    "server closed the connection unexpectedly",
    "the database system is",  # … shutting down / starting up / in recovery mode
    "terminating connection due to administrator command",
    "timeout expired",
    "could not receive data from server",
    "could not send data to server",
    "connection is lost",
    "the connection is closed",
    "no route to host",
)


def is_connection_loss(exc: BaseException | None) -> bool:
    """True when ``exc``, or an error it wraps, is the server going away or not answering.

    Such a failure is worth another try after a pause (a warehouse restart, a failover); a wrong
    database name, a refused password or a failed query would fail the same way again. Follows
    ``__cause__``/``__context__`` and SQLAlchemy's ``.orig`` (Great Expectations reaches
    PostgreSQL through SQLAlchemy).
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        for err in (exc, getattr(exc, "orig", None)):
            if isinstance(err, psycopg.OperationalError) and (err.sqlstate or "").startswith(
                _CONNECTION_LOSS_STATES
            ):
                return True
            if isinstance(err, (psycopg.OperationalError, ServerUnreachableError)):
                text = str(err).lower()
                if any(marker in text for marker in _CONNECTION_LOSS_TEXTS):
                    return True
        exc = exc.__cause__ or exc.__context__
    return False


@dataclass(frozen=True)
class Server:
    """A reachable PostgreSQL server: a URL without a database, and how we got it."""

    url: str
    kind: str  # "external", "private cluster (system binaries)", "private cluster (pgserver)"

    @property
    def _url(self) -> URL:
        return make_url(self.url)

    def sqlalchemy_url(self, database: str, driver: str = "psycopg") -> str:
        """URL for SQLAlchemy (``postgresql+psycopg://…/database``), password included."""
        u = self._url.set(drivername=f"postgresql+{driver}", database=database)
        return u.render_as_string(hide_password=False)

    def conninfo(self, database: str, user: str | None = None, password: str | None = None) -> str:
        """libpq connection string for psycopg, optionally as another login."""
        u = self._url
        params = {
            "host": u.query.get("host") or u.host or "127.0.0.1",
            "port": str(u.port or 5432),
            "user": user or u.username or "postgres",
            "dbname": database,
        }
        pw = password if user else u.password
        if pw:
            params["password"] = pw
        return psycopg.conninfo.make_conninfo(**params)

    def parts(self) -> dict[str, str | int]:
        """host / port / user / password, as dbt profiles and Superset want them."""
        u = self._url
        return {
            "host": str(u.query.get("host") or u.host or "127.0.0.1"),
            "port": int(u.port or 5432),
            "user": u.username or "postgres",
            "password": u.password or "",
        }

    def display(self) -> str:
        """The URL with any password hidden, for messages."""
        return self._url.render_as_string(hide_password=True)

    def connect(self, database: str = "postgres", autocommit: bool = True) -> psycopg.Connection:
        return psycopg.connect(self.conninfo(database), autocommit=autocommit)


def _probe(conninfo: str, timeout: int = 3) -> str | None:
    """None when the server answers, else the reason it does not."""
    try:
        with psycopg.connect(conninfo, connect_timeout=timeout) as conn:
            conn.execute("select 1")
        return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def resolve_server(settings: Settings | None = None, start: bool = True) -> Server:
    """The server to use, starting the private cluster when needed."""
    settings = settings or get_settings()
    if settings.pg_url:
        server = Server(settings.pg_url, "external")
        reason = _probe(server.conninfo("postgres"))
        if reason:
            raise ServerUnreachableError(
                f"cannot reach PostgreSQL at CWW_PG_URL={server.display()}: {reason}. "
                "Fix: start that server, correct CWW_PG_URL, or unset it to let cww run "
                "its own private cluster."
            )
        return server
    cluster = PrivateCluster(settings.home / "pg", settings.private_pg_port)
    if start:
        return cluster.start()
    if not cluster.is_running():
        raise PostgresError("the private cluster is not running. Fix: run `cww db up`.")
    return cluster.server()


# --------------------------------------------------------------------------- private cluster


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _find_bindir() -> Path | None:
    """Directory holding initdb/pg_ctl/postgres, newest major version first."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True
    )
    for c in candidates:
        if Path(c, "initdb").exists() and Path(c, "pg_ctl").exists():
            return Path(c)
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(os.path.realpath(initdb)).parent
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout
        if out.strip() and Path(out.strip(), "initdb").exists():
            return Path(out.strip())
    return None


class PrivateCluster:
    """A PostgreSQL cluster owned by this project, under ``root`` (git-ignored)."""

    TUNING: ClassVar[dict[str, str]] = {
        "listen_addresses": "'127.0.0.1'",
        "shared_buffers": "'512MB'",
        "work_mem": "'64MB'",
        "maintenance_work_mem": "'512MB'",
        "max_wal_size": "'4GB'",
        "checkpoint_timeout": "'15min'",
        "max_connections": "200",
        "fsync": "on",
        "log_min_messages": "warning",
    }

    def __init__(self, root: Path, preferred_port: int) -> None:
        self.root = root.resolve()
        self.data = self.root / "data"
        self.run_dir = self.root / "run"
        self.log = self.root / "server.log"
        self.port_file = self.root / "port"
        self.preferred_port = preferred_port
        self.as_root = hasattr(os, "geteuid") and os.geteuid() == 0

    # -- facts
    @property
    def port(self) -> int:
        if self.port_file.exists():
            return int(self.port_file.read_text().strip())
        return self.preferred_port

    def server(self) -> Server:
        if (self.root / "pgserver").exists() and not self.data.exists():
            return Server(self._pgserver().get_uri(), "private cluster (pgserver)")
        return Server(f"postgresql://postgres@127.0.0.1:{self.port}", "private cluster (system binaries)")

    def is_running(self) -> bool:
        if (self.root / "pgserver").exists() and not self.data.exists():
            return True
        return _probe(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", 2) is None

    # -- actions
    def _run(self, args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = ["runuser", "-u", "postgres", "--", *args] if self.as_root else args
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if check and proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise PostgresError(f"`{' '.join(args[:2])}` failed: {' / '.join(tail)}")
        return proc

    def start(self) -> Server:
        bindir = _find_bindir()
        if bindir is None:
            if self.as_root:
                raise PostgresError(
                    "no PostgreSQL binaries found and running as root, where the pip fallback "
                    "(pgserver) would change system users and folder permissions. Fix: "
                    "`apt-get install postgresql`, or set CWW_PG_URL to an existing server."
                )
            return self._start_pgserver()
        if self.is_running() and self.data.exists():
            return self.server()
        self.root.mkdir(parents=True, exist_ok=True)
        if self.as_root:
            # initdb refuses root: the cluster belongs to the postgres system user.
            shutil.chown(self.root, "postgres", "postgres")
        if not (self.data / "PG_VERSION").exists():
            self._initdb(bindir)
        port = self.preferred_port if _port_free(self.preferred_port) else self._free_port()
        self.port_file.write_text(f"{port}\n")
        self._write_port(port)
        stale = self.data / "postmaster.pid"
        if stale.exists():
            # A crash leaves the pid file; pg_ctl copes when the process is gone, but say so.
            pid = stale.read_text().splitlines()[0].strip()
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                stale.unlink()
        proc = self._run(
            [str(bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start"],
            check=False,
        )
        if proc.returncode != 0:
            tail = self.log.read_text().strip().splitlines()[-3:] if self.log.exists() else []
            raise PostgresError(
                f"private cluster in {self.data} did not start on port {port}: "
                f"{' / '.join(tail) or proc.stderr.strip()}. Fix: see {self.log}."
            )
        return self.server()

    def stop(self) -> bool:
        bindir = _find_bindir()
        if bindir is None or not (self.data / "PG_VERSION").exists():
            return False
        proc = self._run(
            [str(bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"], check=False
        )
        return proc.returncode == 0

    def _initdb(self, bindir: Path) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.as_root:
            for p in (self.data, self.run_dir):
                shutil.chown(p, "postgres", "postgres")
        os.chmod(self.data, 0o700)
        self._run(
            [
                str(bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
            ]
        )
        conf = dict(self.TUNING, unix_socket_directories=f"'{self.run_dir}'")
        with open(self.data / "postgresql.auto.conf", "a") as fh:
            for k, v in conf.items():
                fh.write(f"{k} = {v}\n")

    def _write_port(self, port: int) -> None:
        conf = self.data / "postgresql.auto.conf"
        lines = [ln for ln in conf.read_text().splitlines() if not ln.startswith("port =")]
        lines.append(f"port = {port}")
        conf.write_text("\n".join(lines) + "\n")

    def _free_port(self) -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])

    def _pgserver(self):  # type: ignore[no-untyped-def]
        try:
            import pgserver
        except ImportError as exc:
            raise PostgresError(
                "no PostgreSQL binaries found. Fix: install the server (`apt-get install "
                "postgresql`), `pip install pgserver` for a self-contained one, or set CWW_PG_URL."
            ) from exc
        return pgserver.get_server(str(self.root / "pgserver"), cleanup_mode=None)

    def _start_pgserver(self) -> Server:
        self.root.mkdir(parents=True, exist_ok=True)
        return Server(self._pgserver().get_uri(), "private cluster (pgserver)")


# --------------------------------------------------------------------------- administration


def database_exists(server: Server, name: str) -> bool:
    with server.connect() as conn:
        return conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone() is not None


def create_database(server: Server, name: str, drop_existing: bool = False) -> None:
    with server.connect() as conn:
        if drop_existing:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))


def clone_database(server: Server, template: str, name: str, attempts: int = 30, wait: float = 10.0) -> float:
    """``create database name template template``; returns the seconds it took.

    PostgreSQL refuses while anyone else is connected to the template, so it retries: benchmarks
    clone one large simulated source that other runs may be copying at the same moment.
    """
    drop_database(server, name)
    started = time.perf_counter()
    statement = sql.SQL("create database {} template {}").format(
        sql.Identifier(name), sql.Identifier(template)
    )
    for attempt in range(attempts):
        try:
            with server.connect() as conn:
                conn.execute(statement)
            return time.perf_counter() - started
        except psycopg.errors.ObjectInUse as exc:
            if attempt == attempts - 1:
                raise CwwError(
                    f"could not clone database {template}: others stay connected to it ({exc}). "
                    "Fix: close their sessions, or clone it when they are done."
                ) from exc
            time.sleep(wait)
    raise AssertionError("unreachable")


def drop_database(server: Server, name: str) -> None:
    with server.connect() as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def drop_roles_with_prefix(server: Server, prefix: str) -> None:
    """Drop every role named ``<prefix>_…`` (a benchmark's or test's agency, analyst, reader logins)."""
    with server.connect() as conn:
        roles = [
            r[0]
            for r in conn.execute(
                "select rolname from pg_roles where rolname like %s", (prefix.replace("_", "\\_") + "\\_%",)
            )
        ]
    for role in roles:
        drop_role(server, role)


def drop_role(server: Server, role: str) -> None:
    """Drop a login role, first removing what it owns or was granted in every database."""
    with server.connect() as conn:
        if conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone() is None:
            return
        dbs = [
            r[0]
            for r in conn.execute("select datname from pg_database where datallowconn and not datistemplate")
        ]
    for db in dbs:
        try:
            with server.connect(db) as conn:
                conn.execute(sql.SQL("drop owned by {}").format(sql.Identifier(role)))
        except psycopg.Error:
            continue
    with server.connect() as conn:
        conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(role)))


def ensure_login_role(server: Server, role: str, password: str | None) -> None:
    """Create (or update) a login role; idempotent."""
    with server.connect() as conn:
        exists = conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()
        verb = "alter" if exists else "create"
        stmt = sql.SQL(verb + " role {} login").format(sql.Identifier(role))
        if password:
            stmt = stmt + sql.SQL(" password {}").format(sql.Literal(password))
        conn.execute(stmt)


def grant_read_only(server: Server, database: str, schema: str, role: str) -> None:
    """SELECT on every current and future table of one schema, and nothing else."""
    ident = sql.Identifier
    with server.connect(database) as conn:
        conn.execute(sql.SQL("revoke all on database {} from public").format(ident(database)))
        conn.execute(sql.SQL("grant connect on database {} to {}").format(ident(database), ident(role)))
        conn.execute(sql.SQL("grant usage on schema {} to {}").format(ident(schema), ident(role)))
        conn.execute(
            sql.SQL("grant select on all tables in schema {} to {}").format(ident(schema), ident(role))
        )
        conn.execute(
            sql.SQL("alter default privileges in schema {} grant select on tables to {}").format(
                ident(schema), ident(role)
            )
        )


@contextmanager
def timed() -> Iterator[dict[str, float]]:
    """Wall-clock timer: ``with timed() as t: …; t['seconds']``."""
    out: dict[str, float] = {}
    start = time.perf_counter()
    try:
        yield out
    finally:
        out["seconds"] = time.perf_counter() - start
