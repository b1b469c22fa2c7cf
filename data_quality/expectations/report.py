"""Rich tables for `cww dq run` / `cww dq suites` (printing only; the run lives in runner)."""

from __future__ import annotations

from rich.table import Table

from cww.console import console
from data_quality.expectations.runner import DqRun


def _result(passed: bool, blocking: bool) -> str:
    return "[green]pass[/]" if passed else ("[bold red]FAIL[/]" if blocking else "[yellow]warn[/]")


def print_run(run: DqRun, every_expectation: bool = False) -> None:
    """Per suite: expectations, passed, blocking failures, warnings; then each failure's message
    (or every expectation with ``every_expectation``); then the summary and the Data Docs path."""
    suites = Table(title=f"data quality run {run.run_id} ({run.mode}, as of {run.as_of})")
    for col in ("suite", "rows checked", "expectations", "passed", "blocking failed", "warnings", "result"):
        suites.add_column(col, justify="left" if col in ("suite", "rows checked") else "right")
    scopes = {x.suite: line.split(": ", 1)[1] for x, line in zip(run.scopes, run.scope_lines(), strict=True)}
    for o in run.outcomes:
        n_ok = sum(r.passed for r in o.rows)
        result = (
            _result(o.passed, True)
            if not o.passed
            else ("[yellow]warn[/]" if o.warnings else "[green]pass[/]")
        )
        suites.add_row(
            o.suite.name,
            scopes.get(o.suite.name, "all"),
            str(len(o.rows)),
            str(n_ok),
            str(len(o.blocking_failures)),
            str(len(o.warnings)),
            result,
        )
    console.print(suites)
    rows = run.rows if every_expectation else [r for r in run.rows if not r.passed]
    if rows:
        detail = Table(title="expectations" if every_expectation else "failed expectations")
        for col in ("suite", "expectation", "column", "severity", "result", "message"):
            detail.add_column(col, overflow="fold")
        for r in sorted(rows, key=lambda r: (r.passed, not r.blocking, r.suite)):
            detail.add_row(
                r.suite,
                r.expectation,
                r.column,
                "blocking" if r.blocking else "warning",
                _result(r.passed, r.blocking),
                r.message,
            )
        console.print(detail)
    console.print(f"  {run.summary()}")
    if run.skipped:
        console.print(f"  not run (relation not built yet): {', '.join(run.skipped)}")
    console.print(f"  Data Docs: {run.docs_index}")


def print_suites() -> None:
    from datetime import UTC, datetime

    from data_quality.expectations.mart_suites import mart_suites
    from data_quality.expectations.raw_suites import raw_suites

    now = datetime.now(UTC)
    table = Table(title="data-quality suites")
    for col in ("suite", "expectation", "column", "severity", "why"):
        table.add_column(col, overflow="fold")
    for s in raw_suites(now.date(), {}, now) + mart_suites():
        for c in s.checks:
            table.add_row(s.name, c.kind, c.column, "blocking" if c.blocking else "warning", c.why)
    console.print(table)
