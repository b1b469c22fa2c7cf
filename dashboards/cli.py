"""Command-line group for dashboards/ (filled in by its issue)."""

from __future__ import annotations

import typer

app = typer.Typer(help="dashboards", no_args_is_help=True)
