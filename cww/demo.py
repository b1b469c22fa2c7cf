"""`cww demo` / `make demo`: the nightly job end to end on the local default.

Each stage lives in its own library; this module only strings them together and prints the
summary a person needs: what was built, and where to look next.
"""

from __future__ import annotations

from cww.console import console, step
from cww.postgres import resolve_server
from cww.settings import Settings


def run_demo(settings: Settings) -> None:
    with step("PostgreSQL"):
        server = resolve_server(settings)
        console.print(f"  {server.display()} ({server.kind})")

    with step("Simulated source system (demo preset, seed 42)"):
        from simulator.api import init_source

        for line in init_source(settings, "demo", seed=42, force=True).lines():
            console.print(f"  {line}")

    with step("Extract into the warehouse (full, +1 simulated day, incremental, reconcile)"):
        from extract.demo import demo_step as extract_demo

        for line in extract_demo(settings):
            console.print(f"  {line}")

    with step("Duplicate persons (Splink matching → data_quality.master_person)"):
        from data_quality.dedupe.warehouse import run_dedupe

        for line in run_dedupe(settings, full=True):
            console.print(f"  {line}")

    with step("Warehouse marts (dbt build; children in care per agency)"):
        from cww.transform import demo_step

        demo_step(settings)

    with step("Data quality (Great Expectations suites → dq schema, Data Docs)"):
        from data_quality.expectations.demo import demo_step as dq_demo

        dq_demo(settings)

    with step("Person search (reporting.search_person; cww search)"):
        from data_quality.search.demo import demo_step as search_demo

        for line in search_demo(settings):
            console.print(f"  {line}")

    with step("CSV reports (delivered to .cww/reports/<agency>/)"):
        from reports.demo import demo_reports

        for line in demo_reports(settings):
            console.print(f"  {line}")

    with step("Dashboards (Superset: offered; CWW_DEMO_DASHBOARDS=1 starts it)"):
        from dashboards.demo import demo_step as dashboards_demo

        for line in dashboards_demo(settings):
            console.print(f"  {line}")

    _where_to_look(settings)


def _where_to_look(settings: Settings) -> None:
    """The last thing a person reads: where each result is and how to open it."""
    from dashboards.server import superset_server

    home = settings.home
    console.print("\n[bold]Where to look[/]")
    rows = [
        ("CSV reports", f"{home / 'reports'}/<agency>/"),
        ("Data Docs (data quality)", f"{home / 'data_docs' / 'index.html'}"),
        ("Dashboards", f".venv/bin/cww dashboards up  → {superset_server(settings).url}"),
        ("Dagster UI", 'eval "$(.venv/bin/python -m dagster_project.instance)" && .venv/bin/dagster dev'),
        ("Ad hoc SQL", f"psql against database {settings.warehouse_db} (schemas marts, reporting)"),
        ("Person search", '.venv/bin/cww search "jon smyth 2014-03"'),
        ("Next night", ".venv/bin/cww simulate advance --days 1 && .venv/bin/cww nightly"),
    ]
    for label, where in rows:
        console.print(f"  {label:<26} {where}")
