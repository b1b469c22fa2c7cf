"""Settings for every part of the warehouse, read once from the environment.

One object, so the CLI, Dagster resources and tests all point at the same databases.
Secrets (passwords) only ever come from the environment, never from files in git.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Environment-driven configuration (prefix ``CWW_``)."""

    model_config = SettingsConfigDict(env_prefix="CWW_", extra="ignore")

    # A server URL without a database, e.g. postgresql://user:pw@host:5432.
    # Unset: the project runs its own private cluster under ``home``.
    pg_url: str | None = None
    home: Path = Field(default=PROJECT_ROOT / ".cww")
    source_db: str = "cww_source"
    warehouse_db: str = "cww_warehouse"
    source_schema: str = "cpin"
    truth_schema: str = "truth"
    # Login the pipeline uses to read the source: SELECT on the source schema only.
    source_reader_role: str = "cww_source_reader"
    source_reader_password: str = "cww-reader-dev"
    private_pg_port: int = 54329
    # Prefix of the agency / analyst login roles (cww.security); roles are cluster-wide.
    role_prefix: str = "cww"

    def namespaced(self, prefix: str, home: Path) -> Settings:
        """These settings with databases, logins and home of their own (``<prefix>_source``,
        ``<prefix>_warehouse``, ``<prefix>_reader``, roles ``<prefix>_*``): how tests and benchmarks
        share one server without touching each other's (or the demo's) warehouse."""
        return self.model_copy(
            update={
                "source_db": f"{prefix}_source",
                "warehouse_db": f"{prefix}_warehouse",
                "source_reader_role": f"{prefix}_reader",
                "role_prefix": prefix,
                "home": home,
            }
        )

    def as_env(self) -> dict[str, str]:
        """The ``CWW_*`` variables that make a child process (the CLI, Dagster) use these databases."""
        env = {
            "CWW_SOURCE_DB": self.source_db,
            "CWW_WAREHOUSE_DB": self.warehouse_db,
            "CWW_SOURCE_READER_ROLE": self.source_reader_role,
            "CWW_ROLE_PREFIX": self.role_prefix,
            "CWW_HOME": str(self.home),
        }
        if self.pg_url:
            env["CWW_PG_URL"] = self.pg_url
        return env


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests build their own ``Settings``)."""
    return Settings()
