"""`cww simulate …`: build and advance the synthetic case-management source system."""

from __future__ import annotations

import typer

app = typer.Typer(help="The simulated case-management source system.", no_args_is_help=True)
