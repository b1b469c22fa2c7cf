"""Benchmark: the daily roster for ~50 agencies, each under its own login, delivered to a folder.

Target (issue 7): all agencies' files in <= 60 s with memory bounded regardless of rows.

Runs on the synthetic reporting layer (reports/synthetic.py: per-agency LOGIN roles, RLS on the
base table, security_invoker view — the real mechanism), because a provincial simulation +
extract + dbt build takes far longer than this benchmark should. Two sizes:

* provincial: 50 agencies x 240 children = 12,000 children in care (the provincial preset's size);
* stress:     50 agencies x 20,000 rows = 1,000,000 rows (memory must not grow with rows).

Usage: CWW_PG_URL=postgresql://postgres@127.0.0.1:5432 .venv/bin/python bench/reports.py
Writes bench/results/reports.md. Creates and drops its own database and roles.
"""

from __future__ import annotations

import platform
import resource
import shutil
import sys
import time
import uuid
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cww.postgres import create_database, drop_database, drop_role, resolve_server  # noqa: E402
from cww.settings import Settings  # noqa: E402
from reports import synthetic  # noqa: E402
from reports.loading import load_one  # noqa: E402
from reports.runner import run_report  # noqa: E402

AGENCIES = 50
SIZES = [("provincial", 240), ("stress", 20_000)]
DAY = date(2026, 11, 3)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    tag = uuid.uuid4().hex[:8]
    base = Settings()
    scratch = ROOT / "bench" / "scratch" / f"reports_{tag}"
    settings = base.model_copy(
        update={
            "warehouse_db": f"cwwbench_{tag}_warehouse",
            "role_prefix": f"cwwbench_{tag}",
            "home": scratch,
        }
    )
    server = resolve_server(settings)
    codes = synthetic.agency_codes(AGENCIES)
    rows_out: list[str] = []
    try:
        create_database(server, settings.warehouse_db)
        synthetic.build(server, settings, codes, children_per_agency=0)
        defs = scratch / "defs"
        defs.mkdir(parents=True, exist_ok=True)
        for label, per_agency in SIZES:
            t0 = time.perf_counter()
            with server.connect(settings.warehouse_db) as conn:
                conn.execute("truncate synthetic.roster")
                synthetic.insert_children(conn, codes, per_agency, date(2026, 1, 1))
                conn.execute("analyze synthetic.roster")
            load_s = time.perf_counter() - t0
            name = f"roster_{label}"
            out = scratch / "out" / label
            (defs / f"{name}.yaml").write_text(
                synthetic.definition_yaml(name, f'  - type: folder\n    path: "{out}/{{agency}}"\n')
            )
            rss_before = peak_rss_mb()
            t0 = time.perf_counter()
            result = run_report(settings, load_one(name, defs), DAY, server=server)
            seconds = time.perf_counter() - t0
            delivered = result.count("delivered")
            rows = sum(o.rows or 0 for o in result.outcomes if o.status == "delivered")
            size = sum(p.stat().st_size for p in out.rglob("*.csv"))
            assert delivered == AGENCIES and not result.problems, result.summary()
            assert rows == AGENCIES * per_agency
            t1 = time.perf_counter()
            again = run_report(settings, load_one(name, defs), DAY, server=server)
            rerun_s = time.perf_counter() - t1
            assert again.count("already-delivered") == AGENCIES
            rows_out.append(
                f"| {label} | {AGENCIES} | {rows:,} | {size / 1e6:.1f} MB | {seconds:.1f} s | "
                f"{rows / seconds:,.0f} | {rss_before:.0f} → {peak_rss_mb():.0f} MB | {rerun_s:.2f} s | "
                f"{load_s:.1f} s |"
            )
            print(rows_out[-1], flush=True)
    finally:
        drop_database(server, settings.warehouse_db)
        with server.connect() as conn:
            roles = [
                r[0]
                for r in conn.execute(
                    "select rolname from pg_roles where rolname like %s", (f"cwwbench_{tag}_%",)
                )
            ]
        for role in roles:
            drop_role(server, role)
        shutil.rmtree(scratch, ignore_errors=True)

    report = f"""# Reports benchmark (bench/reports.py)

Daily roster for {AGENCIES} agencies delivered to a folder; each agency's file produced by a
connection **as that agency's login role** (row-level security, no WHERE clause), streamed through
a server-side cursor in batches of 5,000 rows, written to the outbox, checksummed, copied to the
folder (write + fsync + rename) and recorded in the delivery log.

Data: the synthetic reporting layer (`reports/synthetic.py`) with the real mechanism (per-agency
logins, RLS on the base table, `security_invoker` view), **not** the dbt provincial build — a
provincial simulation + extract + dbt build was not available in the time of this benchmark.
"provincial" matches the provincial preset's ~12,000 children in care; "stress" is 80x that, to
show memory does not grow with rows.

Machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()},
PostgreSQL {server.display()} (2 cores shared with other work).

| size | agencies | rows | CSV bytes | produce + deliver | rows/s | peak RSS (before → after) \
| re-run (nothing to send) | load test data |
|---|---|---|---|---|---|---|---|---|
{chr(10).join(rows_out)}

Target: <= 60 s for all agencies, memory bounded. Peak RSS is the whole Python process
(psycopg, pydantic, …); the stress run adds 80x the rows and must not move it materially.
"""
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "reports.md").write_text(report)
    print(f"wrote {results / 'reports.md'}")


if __name__ == "__main__":
    main()
