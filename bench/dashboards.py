"""Benchmark the dashboards: provisioning from an empty metadata DB, chart-data latency, full render.

Targets (issue 6): provisioning ≤ 3 min; every chart of "Where are my kids in care" for one agency
p95 ≤ 500 ms through the chart-data API with a cold cache; full render in headless Chromium ≤ 8 s.

It uses the warehouse the settings name (build it first, e.g. `cww demo`, or CWW_WAREHOUSE_DB=…),
a fresh Superset metadata database and a free port on 127.0.0.1, and removes both afterwards.
Results go to bench/results/dashboards.md.

    .venv/bin/python bench/dashboards.py [--rounds 20] [--renders 5] [--label "demo preset"]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would shadow the
# `dashboards` package it benchmarks.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import json  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import UTC, datetime  # noqa: E402

import psycopg  # noqa: E402

from cww.postgres import drop_database, drop_role, resolve_server  # noqa: E402
from cww.settings import get_settings  # noqa: E402
from dashboards.provision import manager_username, provision  # noqa: E402
from dashboards.sample_warehouse import build_sample_warehouse  # noqa: E402
from dashboards.server import SupersetServer, SupersetSettings, user_password  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "dashboards.md"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def render_times(base: str, username: str, slug: str, n_charts: int, renders: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    out: list[float] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS, headless=True)
        page = browser.new_page(viewport={"width": 1600, "height": 1300})
        page.goto(f"{base}/login/")
        page.fill("#username", username)
        page.fill("#password", user_password(username))
        page.keyboard.press("Enter")
        page.wait_for_url(lambda u: "/login" not in u, timeout=30_000)
        for _ in range(renders):
            start = time.perf_counter()
            page.goto(f"{base}/superset/dashboard/{slug}/")
            page.wait_for_function(
                """n => document.querySelectorAll('[data-test-chart-id]').length === n
                    && document.querySelectorAll('[data-test="loading-indicator"], .loading').length === 0
                    && Array.from(document.querySelectorAll('[data-test-chart-id]'))
                         .every(e => e.querySelector('svg, canvas, table, .header-line, .big-number'))""",
                arg=n_charts,
                timeout=120_000,
            )
            out.append(time.perf_counter() - start)
        browser.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=20, help="chart-data calls per chart")
    ap.add_argument("--renders", type=int, default=5, help="full dashboard renders")
    ap.add_argument("--label", default="", help="what data this ran on (e.g. 'demo preset')")
    ap.add_argument(
        "--sample",
        default="",
        help="AGENCIESxCHILDREN: benchmark a temporary stand-in reporting layer of that size "
        "(dashboards.sample_warehouse) instead of the settings' warehouse, e.g. 50x240",
    )
    args = ap.parse_args()

    settings = get_settings()
    server = resolve_server(settings)
    tag = uuid.uuid4().hex[:6]
    if args.sample:
        n_agencies, n_children = (int(x) for x in args.sample.lower().split("x"))
        settings = settings.model_copy(
            update={"warehouse_db": f"cwwbench_{tag}_warehouse", "role_prefix": f"cwwbench_{tag}"}
        )
        agencies = [(i, f"CAS-{i:03d}", f"Children's Aid Society {i}") for i in range(1, n_agencies + 1)]
        t = time.perf_counter()
        build_sample_warehouse(server, settings, agencies, {i: n_children for i, _c, _n in agencies})
        print(f"sample warehouse {n_agencies}x{n_children} built in {time.perf_counter() - t:.1f} s")
        args.label = args.label or (
            f"(stand-in reporting layer, dashboards.sample_warehouse: {n_agencies} agencies × "
            f"{n_children} children)"
        )
    sset = SupersetSettings(port=_free_port(), metadata_db=f"cwwbench_{tag}_superset")
    superset = SupersetServer(settings.model_copy(update={"home": settings.home / f"bench_{tag}"}), sset)
    lines: list[str] = []
    try:
        t0 = time.perf_counter()
        superset.ensure_env()
        superset.migrate(server)
        t_migrate = time.perf_counter() - t0
        t1 = time.perf_counter()
        superset.start(server)
        t_start = time.perf_counter() - t1
        result = provision(settings, superset, server)
        t_total = time.perf_counter() - t0
        with psycopg.connect(server.conninfo(settings.warehouse_db)) as conn:
            counts = dict(
                conn.execute(
                    "select agency_code, count(*) from reporting.children_in_care_current group by 1"
                ).fetchall()
            )
        code = max(counts, key=lambda k: counts[k])
        agency = next(a for a in result.agencies if a.agency_code == code)
        slug = f"kids-in-care-{agency.slug}"
        from dashboards.client import SupersetClient

        manager = SupersetClient(
            superset.url, manager_username(agency), user_password(manager_username(agency))
        )
        dash_id = result.dashboards[slug]
        charts = manager.get(f"/api/v1/dashboard/{dash_id}/charts")["result"]
        per_chart: dict[str, list[float]] = {}
        for chart in charts:
            full = manager.get(f"/api/v1/chart/{chart['id']}")["result"]
            qc = json.loads(full["query_context"])
            qc["force"] = True  # bypass any cache: every call runs in PostgreSQL
            times: list[float] = []
            for _ in range(args.rounds):
                s = time.perf_counter()
                resp = manager.chart_data(qc)
                times.append((time.perf_counter() - s) * 1000)
                if resp.status_code != 200:
                    raise SystemExit(
                        f"chart {chart['slice_name']}: HTTP {resp.status_code} {resp.text[:200]}"
                    )
            per_chart[chart["slice_name"]] = times
        all_times = [t for ts in per_chart.values() for t in ts]
        renders = render_times(superset.url, manager_username(agency), slug, len(charts), args.renders)

        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        lines += [
            "# Dashboards benchmark",
            "",
            f"Run {now} on warehouse `{settings.warehouse_db}` {args.label}: "
            f"{len(result.agencies)} agencies, {sum(counts.values())} children in care; "
            f"measured agency {code} ({counts[code]} children). 2 cores, gunicorn "
            f"{sset.workers} workers × {sset.threads} threads, data cache off (every query cold).",
            "",
            "| measure | result | target |",
            "|---|---|---|",
            f"| provisioning from an empty metadata DB (install check + migrate + start + import + "
            f"roles/users/RLS) | {t_total:.1f} s (migrate {t_migrate:.1f} s, start {t_start:.1f} s, "
            f"provision {result.seconds:.1f} s) | ≤ 180 s |",
            f"| chart-data API, all {len(charts)} charts × {args.rounds}, p95 | {_p95(all_times):.0f} ms "
            f"(median {statistics.median(all_times):.0f} ms, max {max(all_times):.0f} ms) | ≤ 500 ms |",
            f"| full render in headless Chromium ({args.renders} runs) | median "
            f"{statistics.median(renders):.1f} s, max {max(renders):.1f} s | ≤ 8 s |",
            "",
            "Per chart (ms): " + "; ".join(f"{k}: p95 {_p95(v):.0f}" for k, v in per_chart.items()),
            "",
        ]
    finally:
        superset.stop()
        drop_database(server, sset.metadata_db)
        if args.sample:
            drop_database(server, settings.warehouse_db)
            with server.connect() as conn:
                roles = [
                    r[0]
                    for r in conn.execute(
                        "select rolname from pg_roles where rolname like %s", (f"{settings.role_prefix}_%",)
                    )
                ]
            for role in roles:
                drop_role(server, role)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
