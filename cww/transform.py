"""`cww dbt …`: run the dbt project against the configured warehouse (filled in by the dbt issue)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Build the warehouse with dbt.", no_args_is_help=True)
