"""Extraction knobs that are operational rather than per-table (env prefix ``CWW_EXTRACT_``).

Kept apart from ``cww.settings`` (shared by every part) so extraction can grow options without
touching the shared file; read once per run.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class ExtractOptions(BaseSettings):
    """Environment-driven extraction options."""

    model_config = SettingsConfigDict(env_prefix="CWW_EXTRACT_", extra="ignore")

    # The source's server when it is not the warehouse's (``postgresql://host:port``, no database,
    # no password: the reader role's password comes from CWW_SOURCE_READER_PASSWORD).
    source_pg_url: str | None = None
    # A SQLAlchemy URL for a source that is not PostgreSQL (e.g. sqlite:///legacy.db): read
    # through the generic path (server-side cursor, batches) instead of the COPY fast path.
    source_url: str | None = None
    # How long a second run waits for the warehouse lock before giving up cleanly.
    lock_wait_seconds: float = 0.0
    # Connecting to the source: attempts and first back-off (doubles each time).
    connect_attempts: int = 3
    connect_backoff_seconds: float = 1.0
    connect_timeout_seconds: int = 5
    # Buckets used by reconcile to localise differences without moving every row.
    reconcile_buckets: int = 256
    # Test hook: pause (sleep) at this named point so a test can SIGKILL the process there.
    pause_at: str | None = None
    pause_file: str | None = None
