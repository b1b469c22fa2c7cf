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
