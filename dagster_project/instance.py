"""The Dagster instance (run history, schedules, sensor cursors) under ``$CWW_HOME/dagster``.

``CWW_DAGSTER_PG`` set (a PostgreSQL URL with its database, e.g.
``postgresql://user:pw@host:5432/cww_dagster``): runs, events and schedules are stored there
through dagster-postgres — what a shared, always-on deployment wants. Unset: Dagster's local
default (SQLite files in the same folder) — what a laptop wants. The URL itself is never written
to the file: dagster.yaml refers to the environment variable.

    eval "$(.venv/bin/python -m dagster_project.instance)"   # writes dagster.yaml, exports DAGSTER_HOME
    .venv/bin/dagster dev                                   # UI on http://127.0.0.1:3000
"""

from __future__ import annotations

import os
from pathlib import Path

from cww.settings import Settings, get_settings

ENV_PG = "CWW_DAGSTER_PG"

_LOCAL = """\
# Written by dagster_project/instance.py: local default storage (SQLite under this folder).
telemetry:
  enabled: false
"""

_POSTGRES = f"""\
# Written by dagster_project/instance.py: runs, events and schedules in PostgreSQL ({ENV_PG}).
storage:
  postgres:
    postgres_url:
      env: {ENV_PG}
telemetry:
  enabled: false
"""


def dagster_home(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).home.resolve() / "dagster"


def write_instance_config(settings: Settings | None = None, home: Path | None = None) -> Path:
    """Create DAGSTER_HOME and its dagster.yaml for the current environment; returns the folder."""
    home = home or dagster_home(settings)
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(_POSTGRES if os.environ.get(ENV_PG) else _LOCAL)
    return home


if __name__ == "__main__":
    print(f"export DAGSTER_HOME={write_instance_config()}")
