"""`cww extract` and `cww reconcile`: land the source in the warehouse and prove it matches."""

from __future__ import annotations

import typer

app = typer.Typer(help="Incremental extraction into the warehouse.")
