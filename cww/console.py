"""Shared Rich console and progress helpers, so every long command reports the same way."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

console = Console(stderr=True, soft_wrap=True)  # paths and commands stay copyable in logs


def progress() -> Progress:
    """A progress display with counts and elapsed time (silent when not a terminal)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


@contextmanager
def step(title: str) -> Iterator[None]:
    """Print a step heading, then its elapsed time when it ends."""
    console.print(f"[bold cyan]▶ {title}[/]")
    start = time.perf_counter()
    yield
    console.print(f"  [green]✓[/] {title} [dim]({time.perf_counter() - start:.1f} s)[/]")
