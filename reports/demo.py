"""The reports step of `cww demo`: deliver every shipped report to the local folder and list them."""

from __future__ import annotations

from cww.postgres import database_exists, resolve_server
from cww.settings import Settings
from reports.runner import run_many


def demo_reports(settings: Settings) -> list[str]:
    """Run every shipped report for the warehouse's latest complete period; return summary lines.

    The shipped destinations are folders under ``$CWW_HOME/reports/<agency>/``; running the demo
    again delivers nothing twice (the delivery log says they are already there).
    """
    server = resolve_server(settings)
    if not database_exists(server, settings.warehouse_db):
        return [f"skipped: warehouse {settings.warehouse_db} does not exist yet (the dbt step builds it)"]
    batch = run_many(settings, server=server)
    lines = [r.summary() for r in batch.results]
    lines += [f"problem: {p}" for p in batch.problems]
    for r in batch.results:
        lines += [f"  problem: {o.agency} → {o.destination}: {o.status}: {o.detail}" for o in r.problems]
    folder = settings.home / "reports"
    files = sorted(p for p in folder.glob("*/*.csv")) if folder.exists() else []
    lines.append(f"{len(files)} CSV files in {folder}:")
    lines += [f"  {p.relative_to(folder)}  ({p.stat().st_size:,} bytes)" for p in files[:12]]
    if len(files) > 12:
        lines.append(f"  … and {len(files) - 12} more")
    return lines
