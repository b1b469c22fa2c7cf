"""The dashboards step of `cww demo` / `make demo`, and the refresh the Dagster asset runs.

Decision (keeps `make demo` under ~3 minutes and leaves no server behind unasked): the demo
*offers* the dashboards — it prints the exact command and the logins — and only brings Superset up
when ``CWW_DEMO_DASHBOARDS=1`` (first start: ~15 s migration + ~10 s start + provisioning). When a
Superset started by `cww dashboards up` is already running, the demo re-provisions it instead
(seconds), so its datasets follow the warehouse that was just rebuilt.
"""

from __future__ import annotations

import os

from cww.settings import Settings

DEMO_ENV = "CWW_DEMO_DASHBOARDS"


def _wants_up() -> bool:
    return os.environ.get(DEMO_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def planned_logins(settings: Settings) -> list[str]:
    """The logins `cww dashboards up` creates, with their derived passwords (nothing is stored)."""
    from dashboards.provision import ANALYST_USER, DATATEAM_USER, manager_username, read_agencies
    from dashboards.server import superset_server, user_password, warehouse_server

    superset = superset_server(settings)
    lines = [f"  {'admin':<24} {superset.admin_password}"]
    for agency in read_agencies(warehouse_server(settings), settings):
        name = manager_username(agency)
        lines.append(f"  {name:<24} {user_password(name)}   (agency {agency.agency_code} only)")
    lines.append(f"  {ANALYST_USER:<24} {user_password(ANALYST_USER)}   (SQL Lab, pseudonymised views)")
    lines.append(f"  {DATATEAM_USER:<24} {user_password(DATATEAM_USER)}   (data-quality dashboard)")
    return lines


def refresh_if_running(settings: Settings) -> list[str] | None:
    """Re-provision a running Superset (datasets follow the rebuilt views); None when none runs."""
    from dashboards.provision import provision
    from dashboards.server import superset_server, warehouse_server

    superset = superset_server(settings)
    if superset.pid() is None or not superset.healthy():
        return None
    result = provision(settings, superset, warehouse_server(settings))
    return [f"Superset at {superset.url} re-provisioned", *result.summary()]


def demo_step(settings: Settings) -> list[str]:
    """Offer the dashboards (or bring them up when CWW_DEMO_DASHBOARDS=1); returns the lines shown."""
    from dashboards.cli import bring_up
    from dashboards.server import superset_server

    if _wants_up():
        return bring_up(settings)
    refreshed = refresh_if_running(settings)
    if refreshed is not None:
        return [*refreshed, "logins:", *planned_logins(settings)]
    url = superset_server(settings).url
    return [
        "Superset is not started by the demo (first start ~30-40 s). Start it with:",
        "  .venv/bin/cww dashboards up",
        f"(or re-run the demo with {DEMO_ENV}=1), then open {url} and log in as:",
        *planned_logins(settings),
        "Stop it with: .venv/bin/cww dashboards down",
    ]
