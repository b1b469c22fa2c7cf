"""The `cww demo` step: run every suite once and print what passed, what failed, where the docs are."""

from __future__ import annotations

from cww.console import console
from cww.settings import Settings


def demo_step(settings: Settings) -> list[str]:
    """All suites against the demo warehouse; summary lines (also printed).

    The demo does not record the night for the report hold-back: the CSV step that follows
    should show deliveries, and `cww dq run` is the command that arms the hold-back.
    """
    from data_quality.expectations.runner import run_dq

    run = run_dq(settings, record_holdback=False)
    lines = [run.summary(), *run.failures()[:10], f"Data Docs: {run.docs_index}"]
    for line in lines:
        console.print(f"  {line}")
    return lines
