"""The `cww` command: one entry point, one sub-command group per part of the warehouse.

Each library folder owns its own Typer app (``simulator/cli.py``, ``extract/cli.py`` …) and keeps
heavy imports (Dagster, dbt, GX, Splink) inside its commands so `cww --help` stays instant.
"""

from __future__ import annotations

import sys

import typer

from cww.console import console
from cww.errors import CwwError
from cww.settings import get_settings

app = typer.Typer(
    name="cww",
    help="Child Welfare Warehouse: simulate, extract, transform, check, report, dashboard.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The PostgreSQL server the warehouse runs on.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("up")
def db_up() -> None:
    """Reach CWW_PG_URL, or start the project's private cluster."""
    from cww.postgres import resolve_server

    server = resolve_server(get_settings())
    console.print(f"PostgreSQL: [bold]{server.display()}[/] ({server.kind})")


@db_app.command("down")
def db_down() -> None:
    """Stop the private cluster (an external CWW_PG_URL server is left alone)."""
    from cww.postgres import PrivateCluster

    s = get_settings()
    if s.pg_url:
        console.print("CWW_PG_URL is set: that server is not ours to stop.")
        return
    stopped = PrivateCluster(s.home / "pg", s.private_pg_port).stop()
    console.print("private cluster stopped" if stopped else "private cluster was not running")


@db_app.command("status")
def db_status() -> None:
    """Say which server is in use and whether it answers."""
    from cww.postgres import database_exists, resolve_server

    s = get_settings()
    server = resolve_server(s, start=False)
    console.print(f"PostgreSQL: [bold]{server.display()}[/] ({server.kind}) is up")
    for db in (s.source_db, s.warehouse_db):
        console.print(f"  {db}: {'present' if database_exists(server, db) else 'absent'}")


@app.command("demo")
def demo() -> None:
    """Run the whole nightly job end to end on the local default, then say where to look."""
    from cww.demo import run_demo

    run_demo(get_settings())


def _register_nightly() -> None:
    """`cww nightly`: the Dagster nightly job's stages through the libraries (cww/nightly.py)."""
    from cww.nightly import nightly_cmd

    app.command("nightly")(nightly_cmd)


_register_nightly()


def _mount() -> None:
    """Attach each library's command group (imports are light: Typer apps only)."""
    from cww.transform import app as dbt_app
    from dashboards.cli import app as dashboards_app
    from data_quality.cli import app as data_quality_app
    from extract.cli import app as extract_app
    from reports.cli import app as reports_app
    from simulator.cli import app as simulate_app

    app.add_typer(simulate_app, name="simulate")
    app.add_typer(extract_app)  # `cww extract`, `cww reconcile`
    app.add_typer(dbt_app, name="dbt")
    app.add_typer(data_quality_app)  # `cww dq …`, `cww dedupe …`, `cww search`
    app.add_typer(reports_app, name="report")
    app.add_typer(dashboards_app, name="dashboards")


_mount()


def main() -> None:
    """Console entry point: expected failures print one line and exit 2, never a traceback."""
    try:
        app()
    except CwwError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        sys.exit(2)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]")
        sys.exit(130)


if __name__ == "__main__":
    main()
