"""Resources: the same settings the CLI uses, so Dagster reads and writes the same databases.

``CwwSettingsResource`` wraps ``cww.settings.get_settings()`` (environment, ``CWW_*``); fields set
on the resource override single settings, which is how tests point a run at throwaway databases.
``source`` and ``warehouse`` name the two databases in the UI.
"""

from __future__ import annotations

import dagster as dg

from cww.settings import Settings, get_settings


class CwwSettingsResource(dg.ConfigurableResource):
    """The warehouse's settings; overrides are optional (None = take the environment's value)."""

    pg_url: str | None = None
    source_db: str | None = None
    warehouse_db: str | None = None
    source_reader_role: str | None = None
    source_reader_password: str | None = None

    def settings(self) -> Settings:
        base = get_settings()
        overrides = {
            k: v
            for k, v in {
                "pg_url": self.pg_url,
                "source_db": self.source_db,
                "warehouse_db": self.warehouse_db,
                "source_reader_role": self.source_reader_role,
                "source_reader_password": self.source_reader_password,
            }.items()
            if v is not None
        }
        return base.model_copy(update=overrides) if overrides else base

    @classmethod
    def from_settings(cls, s: Settings) -> CwwSettingsResource:
        """A resource pinned to explicit settings (tests, scripts)."""
        return cls(
            pg_url=s.pg_url,
            source_db=s.source_db,
            warehouse_db=s.warehouse_db,
            source_reader_role=s.source_reader_role,
            source_reader_password=s.source_reader_password,
        )


RESOURCE_KEY = "cww_settings"

defs = dg.Definitions(resources={RESOURCE_KEY: CwwSettingsResource()})
