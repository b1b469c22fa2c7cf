"""`cww report …`: list, validate and run the scheduled CSV reports by hand (same code as Dagster)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from cww.console import console
from cww.errors import CwwError
from cww.settings import get_settings

app = typer.Typer(help="Scheduled CSV reports: list, validate, run, resend.", no_args_is_help=True)


@app.command("list")
def list_reports() -> None:
    """Every report definition: schedule, split, destinations."""
    from rich.table import Table

    from reports.loading import definitions_dir, load_all

    good, bad = load_all()
    table = Table(title=f"Reports in {definitions_dir()}")
    for col in ("name", "schedule (Toronto)", "split", "reads", "destinations"):
        table.add_column(col)
    for loaded in good:
        d = loaded.definition
        table.add_row(
            d.name,
            d.schedule,
            ", ".join(d.split),
            d.view or "SQL",
            "\n".join(dest.key for dest in d.destinations),
        )
    console.print(table)
    for p in bad:
        console.print(f"[red]invalid:[/] {p}")


@app.command("validate")
def validate(
    no_db: Annotated[
        bool, typer.Option("--no-db", help="Only the YAML and secrets, not the warehouse.")
    ] = False,
) -> None:
    """Check every definition (YAML, cron, secrets, and that its view and columns exist)."""
    from reports.loading import load_all, secret_problems

    good, bad = load_all()
    problems = [str(p) for p in bad]
    if no_db:
        for loaded in good:
            problems.extend(str(p) for p in secret_problems(loaded))
    else:
        from cww.postgres import resolve_server
        from reports.runner import preflight

        settings = get_settings()
        with resolve_server(settings).connect(settings.warehouse_db) as conn:
            for loaded in good:
                try:
                    skip = preflight(conn, loaded)
                except CwwError as exc:
                    problems.append(str(exc))
                    continue
                if skip:
                    console.print(f"[yellow]{loaded.definition.name}:[/] will be skipped — {skip}")
    for p in problems:
        console.print(f"[red]✗[/] {p}")
    if problems:
        raise typer.Exit(2)
    console.print(f"[green]✓[/] {len(good)} report definitions are valid")


@app.command("run")
def run(
    name: Annotated[str, typer.Argument(help="Report name, or 'all'.")],
    day: Annotated[str | None, typer.Option("--date", help="A date in the period (YYYY-MM-DD).")] = None,
    agency: Annotated[
        str | None, typer.Option("--agency", help="Only this agency code (or PROVINCIAL).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Produce the files; send nothing, log nothing.")
    ] = False,
) -> None:
    """Produce and deliver a report for one period; already-delivered destinations are skipped."""
    from reports.runner import run_many

    try:
        when = date.fromisoformat(day) if day else None
    except ValueError as exc:
        raise CwwError(f"--date {day!r} is not a date (YYYY-MM-DD)") from exc
    names = None if name == "all" else [name]
    if names:
        from reports.loading import load_one

        load_one(name)  # one clear error for an unknown or invalid name
    settings = get_settings()
    batch = run_many(settings, names, when, agency, dry_run, on_outcome=lambda o: console.print(_line(o)))
    for r in batch.results:
        console.print(f"[bold]{r.summary()}[/]")
    for p in batch.problems:
        console.print(f"[red]✗[/] {p}")
    if not batch.ok:
        raise typer.Exit(1)


def _line(o) -> str:  # type: ignore[no-untyped-def]
    colour = {
        "delivered": "green",
        "already-delivered": "dim",
        "dry-run": "cyan",
        "held": "yellow",
        "waiting": "yellow",
        "failed": "red",
        "exhausted": "bold red",
        "uncertain": "bold red",
        "error": "bold red",
    }.get(o.status, "white")
    rows = f" {o.rows} rows" if o.rows is not None else ""
    return (
        f"  [{colour}]{o.status:>17}[/] {o.report} {o.period} {o.agency} → {o.destination}{rows}  {o.detail}"
    )


@app.command("resend")
def resend(
    name: str,
    day: Annotated[str, typer.Option("--date", help="The period (YYYY-MM-DD) as in the log.")],
    agency: Annotated[str, typer.Option("--agency")],
    destination: Annotated[str, typer.Option("--destination", help="The destination key as in the log.")],
) -> None:
    """Allow another send of an exhausted or uncertain delivery (after a person checked)."""
    from cww.postgres import resolve_server
    from reports import delivery_log as log

    settings = get_settings()
    key = log.Key(name, date.fromisoformat(day), agency, destination)
    with resolve_server(settings).connect(settings.warehouse_db) as conn:
        if not log.release(conn, key):
            raise CwwError(
                f"no failed/uncertain delivery {name} {day} {agency} → {destination} in reports.delivery_log"
            )
    console.print(f"released: the next `cww report run {name} --date {day}` sends it")


@app.command("log")
def show_log(
    name: Annotated[str | None, typer.Argument(help="Only this report.")] = None,
    limit: int = 40,
) -> None:
    """The latest rows of the delivery log."""
    from rich.table import Table

    from cww.postgres import resolve_server
    from reports import delivery_log as log

    settings = get_settings()
    with resolve_server(settings).connect(settings.warehouse_db) as conn:
        rows = log.latest(conn, name, limit)
    table = Table()
    for col in ("report", "period", "agency", "destination", "status", "attempts", "rows", "last error"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["report"],
            str(r["period"]),
            r["agency"],
            r["destination"],
            r["status"],
            str(r["attempts"]),
            str(r["row_count"] or ""),
            (r["last_error"] or "")[:60],
        )
    console.print(table)
