"""`cww simulate …`: build and advance the synthetic case-management source system."""

from __future__ import annotations

from datetime import date, datetime

import typer

from cww.console import console
from cww.settings import get_settings

app = typer.Typer(help="The simulated case-management source system.", no_args_is_help=True)


def _parse_date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD") from None


@app.command("init")
def init(
    preset: str = typer.Option("demo", help="tiny | demo | provincial"),
    seed: int = typer.Option(42, help="Same seed and as-of date: the same database."),
    as_of: str = typer.Option(None, "--as-of", help="Simulated today (YYYY-MM-DD); default: today."),
    force: bool = typer.Option(False, "--force", help="Drop and rebuild an existing source database."),
) -> None:
    """Create the source database and simulate its history up to --as-of."""
    from simulator.api import init_source

    summary = init_source(get_settings(), preset, seed, force=force, as_of=_parse_date(as_of))
    for line in summary.lines():
        console.print(line)


@app.command("advance")
def advance(days: int = typer.Option(1, help="Simulated days to add (one transaction per day).")) -> None:
    """Move the simulated world forward: new referrals, moves, discharges, payments, corrections."""
    from simulator.api import advance as advance_

    summary = advance_(get_settings(), days)
    for line in summary.lines():
        console.print(line)
    for k, v in summary.extra.items():
        console.print(f"  {k}: {v:,}" if isinstance(v, int) else f"  {k}: {v}")


@app.command("status")
def status() -> None:
    """The simulated clock and the rows per table."""
    from simulator.api import status as status_

    summary = status_(get_settings())
    for line in summary.lines()[:-1]:
        console.print(line)
