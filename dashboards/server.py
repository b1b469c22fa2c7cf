"""Installing, migrating, starting and stopping the project's Superset server.

Superset runs from its own locked virtualenv (``dashboards/.venv``, see dashboards/pyproject.toml)
because its pins (SQLAlchemy < 2, pandas < 2.2) cannot live beside the pipeline's. This module only
runs processes and speaks HTTP; it never imports Superset.

State lives under ``$CWW_HOME/superset`` (git-ignored): the pid file, the server log and — unless
``CWW_SUPERSET_SECRET_KEY`` is set — a generated secret key (mode 600), so sessions and the
encrypted database passwords survive restarts without a secret in git.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from pydantic_settings import BaseSettings, SettingsConfigDict

from cww.errors import CwwError
from cww.postgres import Server, create_database, database_exists, resolve_server
from cww.security import role_password
from cww.settings import Settings

PACKAGE_DIR = Path(__file__).resolve().parent
SUPERSET_VENV = PACKAGE_DIR / ".venv"
SUPERSET_BIN = SUPERSET_VENV / "bin"
CONFIG_FILE = PACKAGE_DIR / "superset_config.py"
BOOTSTRAP_SCRIPT = PACKAGE_DIR / "superset_bootstrap.py"


class SupersetError(CwwError):
    """A Superset problem explained in one line, with the fix."""


class SupersetSettings(BaseSettings):
    """Superset-specific settings (prefix ``CWW_SUPERSET_``); the rest comes from ``cww.settings``."""

    model_config = SettingsConfigDict(env_prefix="CWW_SUPERSET_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8088
    metadata_db: str = "cww_superset"
    secret_key: str | None = None
    admin_password: str | None = None
    workers: int = 2
    threads: int = 4
    # Caseload standard (open cases per worker) the Caseload dashboard measures against.
    caseload_standard: int = 20


def user_password(username: str) -> str:
    """Demo logins' passwords: derived from CWW_ROLE_SECRET like the database logins, never stored."""
    return role_password(f"superset-user:{username}")


@dataclass
class SupersetServer:
    """One Superset instance: its settings, state folder and metadata database."""

    settings: Settings
    sset: SupersetSettings

    @property
    def state_dir(self) -> Path:
        return self.settings.home / "superset"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "superset.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "superset.log"

    @property
    def url(self) -> str:
        return f"http://{self.sset.host}:{self.sset.port}"

    @property
    def admin_password(self) -> str:
        return self.sset.admin_password or user_password("admin")

    # ------------------------------------------------------------------ environment
    def ensure_env(self) -> bool:
        """Install Superset's locked environment with uv when missing; True when it installed."""
        if (SUPERSET_BIN / "gunicorn").exists() and (SUPERSET_BIN / "python").exists():
            return False
        uv = shutil.which("uv")
        cmd = [uv] if uv else [sys.executable, "-m", "uv"]
        proc = subprocess.run(
            [*cmd, "sync", "--frozen", "--project", str(PACKAGE_DIR)],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            tail = " / ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
            raise SupersetError(
                f"installing Superset's environment in {SUPERSET_VENV} failed: {tail}. "
                "Fix: `pip install uv`, then `uv sync --frozen --project dashboards`."
            )
        return True

    def _secret_key(self) -> str:
        if self.sset.secret_key:
            return self.sset.secret_key
        key_file = self.state_dir / "secret_key"
        if not key_file.exists():
            self.state_dir.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_urlsafe(48))
            key_file.chmod(0o600)
        return key_file.read_text().strip()

    def _metadata_url(self, server: Server) -> str:
        return server.sqlalchemy_url(self.sset.metadata_db, driver="psycopg2")

    def process_env(self, server: Server) -> dict[str, str]:
        """Environment for Superset processes: config path, secret key, metadata DB."""
        env = dict(os.environ)
        env.update(
            SUPERSET_CONFIG_PATH=str(CONFIG_FILE),
            SUPERSET_SECRET_KEY=self._secret_key(),
            CWW_SUPERSET_METADATA_URL=self._metadata_url(server),
            CWW_SUPERSET_ADMIN_PASSWORD=self.admin_password,
            FLASK_APP="superset.app:create_app()",
            PYTHONUNBUFFERED="1",
        )
        # The pipeline's virtualenv must not leak into Superset's interpreter.
        env.pop("VIRTUAL_ENV", None)
        env.pop("PYTHONPATH", None)
        return env

    # ------------------------------------------------------------------ metadata
    def migrate(self, server: Server) -> None:
        """Create the metadata database if needed, migrate it, sync roles, set the admin login."""
        if not database_exists(server, self.sset.metadata_db):
            create_database(server, self.sset.metadata_db)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(
            [str(SUPERSET_BIN / "python"), str(BOOTSTRAP_SCRIPT)],
            capture_output=True,
            text=True,
            env=self.process_env(server),
            cwd=self.state_dir,
        )
        if proc.returncode != 0:
            (self.state_dir / "migrate.log").write_text(proc.stdout + proc.stderr)
            tail = " / ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
            raise SupersetError(
                f"migrating Superset's metadata database {self.sset.metadata_db} failed: {tail}. "
                f"Fix: see {self.state_dir / 'migrate.log'}."
            )

    # ------------------------------------------------------------------ process
    def pid(self) -> int | None:
        """The running server's pid, or None (a stale pid file is removed)."""
        if not self.pid_file.exists():
            return None
        text = self.pid_file.read_text().strip()
        if text.isdigit() and Path(f"/proc/{text}").exists():
            return int(text)
        self.pid_file.unlink(missing_ok=True)
        return None

    def healthy(self, timeout: float = 2.0) -> bool:
        try:
            return requests.get(f"{self.url}/health", timeout=timeout).status_code == 200
        except requests.RequestException:
            return False

    def start(self, server: Server, wait_seconds: float = 120.0) -> int:
        """Start gunicorn on the configured loopback address; returns its pid."""
        running = self.pid()
        if running and self.healthy():
            return running
        if self.healthy():
            raise SupersetError(
                f"something else already answers on {self.url}. Fix: stop it, or set "
                "CWW_SUPERSET_PORT to a free port."
            )
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_file, "ab")  # noqa: SIM115 - handed to the child process
        proc = subprocess.Popen(
            [
                str(SUPERSET_BIN / "gunicorn"),
                "--workers",
                str(self.sset.workers),
                "--worker-class",
                "gthread",
                "--threads",
                str(self.sset.threads),
                "--timeout",
                "120",
                "--bind",
                f"{self.sset.host}:{self.sset.port}",
                "superset.app:create_app()",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.process_env(server),
            cwd=self.state_dir,
            start_new_session=True,
        )
        log.close()
        self.pid_file.write_text(f"{proc.pid}\n")
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                tail = " / ".join(self.log_file.read_text(errors="replace").strip().splitlines()[-3:])
                raise SupersetError(f"Superset exited while starting: {tail}. Fix: see {self.log_file}.")
            if self.healthy():
                return proc.pid
            time.sleep(0.5)
        self.stop()
        raise SupersetError(
            f"Superset did not answer on {self.url} within {wait_seconds:.0f} s. Fix: see {self.log_file}."
        )

    def stop(self, wait_seconds: float = 20.0) -> bool:
        """Stop the server this project started (by its pid file only); True when one was running."""
        pid = self.pid()
        if pid is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.2)
        if Path(f"/proc/{pid}").exists():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True


def superset_server(settings: Settings, sset: SupersetSettings | None = None) -> SupersetServer:
    return SupersetServer(settings, sset or SupersetSettings())


def warehouse_server(settings: Settings) -> Server:
    return resolve_server(settings)
