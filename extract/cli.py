"""`cww extract` and `cww reconcile`: land the source in the warehouse and prove it matches."""

from __future__ import annotations

import time

import typer
from rich.progress import Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from cww.console import console
from cww.settings import get_settings

app = typer.Typer(help="Incremental extraction into the warehouse.")


class RichProgress:
    """Per-table progress lines: rows, MB and elapsed time, then the outcome."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}
        self.started: dict[str, float] = {}

    def table_started(self, table: str) -> None:
        self.started[table] = time.perf_counter()
        self.tasks[table] = self.progress.add_task(table, total=None, detail="connecting …")

    def table_progress(self, table: str, rows: int, nbytes: int) -> None:
        self.progress.update(self.tasks[table], detail=f"{rows:>11,} rows  {nbytes / 1e6:8.1f} MB")

    def table_done(self, result) -> None:  # type: ignore[no-untyped-def]
        if result.status == "ok":
            detail = (
                f"{result.rows_read:>11,} rows  {result.mb:8.1f} MB  [green]✓[/] "
                f"+{result.inserted} ~{result.updated} -{result.deleted} ✗{result.rejected}"
            )
        else:
            detail = f"[red]failed[/]: {result.error}"
        self.progress.update(self.tasks[result.table], detail=detail, total=1, completed=1)


def _summary_table(summary) -> Table:  # type: ignore[no-untyped-def]
    t = Table(title=f"extract batch {summary.batch_id}", title_justify="left")
    for col in (
        "table",
        "path",
        "mode",
        "read",
        "inserted",
        "updated",
        "soft-del",
        "deleted",
        "rejected",
        "MB",
        "s",
    ):
        t.add_column(col, justify="left" if col in ("table", "path", "mode") else "right")
    for r in summary.tables:
        if r.status != "ok":
            t.add_row(r.table, "[red]failed[/]", "", "", "", "", "", "", "", "", "")
            continue
        t.add_row(
            r.table,
            r.path,
            r.mode,
            f"{r.rows_read:,}",
            f"{r.inserted:,}",
            f"{r.updated:,}",
            f"{r.soft_deleted:,}",
            f"{r.deleted:,}",
            f"{r.rejected:,}",
            f"{r.mb:.1f}",
            f"{r.seconds:.2f}",
        )
    tot = summary.totals()
    t.add_row(
        "[bold]total",
        "",
        "",
        f"{int(tot['rows_read']):,}",
        f"{int(tot['inserted']):,}",
        f"{int(tot['updated']):,}",
        f"{int(tot['soft_deleted']):,}",
        f"{int(tot['deleted']):,}",
        f"{int(tot['rejected']):,}",
        f"{tot['mb']:.1f}",
        f"{tot['seconds']:.2f}",
    )
    return t


@app.command("extract")
def extract_cmd(
    tables: list[str] = typer.Option(
        None, "--tables", "-t", help="Tables to extract (repeat or comma-separate)."
    ),
    full_refresh: bool = typer.Option(
        False, "--full-refresh", help="Re-read whole tables and check deletes."
    ),
    wait: float = typer.Option(None, "--wait", help="Seconds to wait for another run's lock (default 0)."),
    registry: str = typer.Option(
        None, "--registry", help="Registry YAML (default extract/registry/cpin.yml)."
    ),
) -> None:
    """Land the source tables in warehouse.raw (incremental unless --full-refresh)."""
    from extract.api import run_extract
    from extract.options import ExtractOptions

    names = [n.strip() for item in (tables or []) for n in item.split(",") if n.strip()] or None
    options = ExtractOptions()
    if wait is not None:
        options.lock_wait_seconds = wait
    with Progress(
        TextColumn("[bold]{task.description:<22}"),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        summary = run_extract(
            get_settings(),
            names,
            full_refresh,
            registry=registry,
            options=options,
            progress=RichProgress(progress),
        )
    console.print(_summary_table(summary))
    for r in summary.tables:
        for w in r.warnings:
            console.print(f"[yellow]warning[/] {r.table}: {w}")
    if not summary.ok:
        for r in summary.failed:
            console.print(f"[bold red]error:[/] {r.error}")
        raise typer.Exit(1)


@app.command("reconcile")
def reconcile_cmd(
    tables: list[str] = typer.Option(None, "--tables", "-t", help="Tables to compare (default: all)."),
    registry: str = typer.Option(
        None, "--registry", help="Registry YAML (default extract/registry/cpin.yml)."
    ),
) -> None:
    """Compare source and raw (counts, keys, column checksums); exit 1 on any difference."""
    from extract.api import reconcile

    names = [n.strip() for item in (tables or []) for n in item.split(",") if n.strip()] or None
    report = reconcile(get_settings(), names, registry=registry)
    for d in report.tables:
        mark = "[green]✓[/]" if d.ok else "[red]✗[/]"
        console.print(f"{mark} {d.describe()}")
    if not report.ok:
        bad = [d.table for d in report.tables if not d.ok]
        console.print(f"[bold red]{len(bad)} table(s) differ:[/] {', '.join(bad)}")
        raise typer.Exit(1)
    console.print("[green]source and warehouse match[/]")
