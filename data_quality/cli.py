"""Command-line group for data_quality/ (filled in by its issue)."""

from __future__ import annotations

import typer

app = typer.Typer(help="data_quality", no_args_is_help=True)
