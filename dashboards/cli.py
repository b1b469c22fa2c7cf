"""`cww dashboards up | down | status`: Superset as code, on 127.0.0.1.

Imports stay inside the commands so `cww --help` stays instant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from cww.settings import Settings

app = typer.Typer(help="Superset dashboards (own environment, provisioned from git).", no_args_is_help=True)


def bring_up(settings: Settings, provision_only: bool = False) -> list[str]:
    """Install (if needed), migrate, start and provision Superset; returns summary lines.

    Also what `cww demo` calls, so the demo and the command do exactly the same thing.
    """
    from cww.console import step
    from dashboards.provision import provision
    from dashboards.server import superset_server, warehouse_server

    server = warehouse_server(settings)
    superset = superset_server(settings)
    if not provision_only:
        with step("Superset environment (dashboards/.venv, uv-locked)"):
            superset.ensure_env()
        with step(f"Superset metadata database {superset.sset.metadata_db}"):
            superset.migrate(server)
        with step(f"Superset server on {superset.url}"):
            superset.start(server)
    with step("Provision bundle, roles, users, row-level security"):
        result = provision(settings, superset, server)
    lines = [f"Superset: {superset.url}  (log: {superset.log_file})", *result.summary()]
    lines.append("logins (passwords derive from CWW_ROLE_SECRET; admin from CWW_SUPERSET_ADMIN_PASSWORD):")
    lines.extend(f"  {user:<24} {password}" for user, password in result.logins.items())
    kids = [slug for slug in result.dashboards if slug.startswith("kids-in-care-")]
    first = kids[0] if kids else next(iter(result.dashboards), None)
    if first:
        lines.append(f"open: {superset.url}/superset/dashboard/{first}/")
        lines.append(f"data team: {superset.url}/superset/dashboard/data-quality/")
    return lines


@app.command("up")
def up(
    provision_only: bool = typer.Option(
        False, "--provision-only", help="Only re-provision a running server."
    ),
) -> None:
    """Install (if needed), migrate, provision and start Superset on 127.0.0.1."""
    from cww.console import console
    from cww.settings import get_settings

    for line in bring_up(get_settings(), provision_only=provision_only):
        console.print(line, highlight=False)


@app.command("down")
def down() -> None:
    """Stop the Superset server started by `cww dashboards up` (by its pid file)."""
    from cww.console import console
    from cww.settings import get_settings
    from dashboards.server import superset_server

    stopped = superset_server(get_settings()).stop()
    console.print("Superset stopped" if stopped else "Superset was not running")


@app.command("status")
def status() -> None:
    """Say whether Superset runs, where, and whether it answers."""
    from cww.console import console
    from cww.settings import get_settings
    from dashboards.server import superset_server

    s = superset_server(get_settings())
    pid = s.pid()
    if pid is None:
        console.print(f"Superset is not running (would listen on {s.url})")
        raise typer.Exit(1)
    health = "answers" if s.healthy() else "does NOT answer"
    console.print(f"Superset pid {pid} on {s.url}: {health}")
