"""dbt warehouse benchmark: full build, nightly incremental build, and one agency's "where are my
kids" query under row-level security.

    .venv/bin/python bench/dbt.py [--preset provincial] [--seed 42] [--as-of 2025-06-30]
                                  [--source-db NAME] [--prefix cwwbench_dbt] [--reuse] [--keep]
                                  [--nights 2]

Steps (throwaway databases <prefix>_source / <prefix>_warehouse, roles <prefix>_*):
simulate the preset (or, with --source-db, clone that existing source database, which is never
modified) → extract → full `dbt build --full-refresh` (timed, in-process) → then, --nights times
(default 2), advance the source one day → extract → the nightly `dbt build`
(cww.transform.build(nightly=True): incremental models, no unit tests, data tests on the new rows;
timed) → as the largest agency's login, run
`select * from reporting.children_in_care_current` 50 times (median, p95) and record the plan.
Targets (issue 4): full build ≤ 15 min at provincial scale; nightly (mean of the nights) ≤ 20 % of full; the
agency query ≤ 50 ms median. Results go to bench/results/dbt.md (the section of this preset is
replaced, others kept); databases are dropped unless --keep (--reuse keeps an existing
simulated source and skips the simulation).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder would come first on sys.path and shadow real packages.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import psycopg  # noqa: E402

from cww.console import console  # noqa: E402
from cww.postgres import database_exists, drop_database, drop_role, drop_roles_with_prefix, resolve_server  # noqa: E402
from cww.security import agency_role, role_password  # noqa: E402
from cww.settings import PROJECT_ROOT, Settings  # noqa: E402

RESULTS = PROJECT_ROOT / "bench" / "results" / "dbt.md"
QUERY = "select * from reporting.children_in_care_current"


def timed(label: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    console.print(f"[bold]{label}[/] …")
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    seconds = time.perf_counter() - start
    console.print(f"  {label}: {seconds:.1f} s")
    return out, seconds


def fmt_load(load: tuple[float, float, float]) -> str:
    return "/".join(f"{x:.1f}" for x in load)


def clone_source(server, template: str, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    """Copy an existing source database (never modified: the benchmark advances its own copy) and
    give the bench's read-only login access to it."""
    from cww.postgres import clone_database, ensure_login_role, grant_read_only

    drop_database(server, settings.warehouse_db)
    clone_database(server, template, settings.source_db, attempts=10, wait=5)
    ensure_login_role(server, settings.source_reader_role, settings.source_reader_password)
    grant_read_only(server, settings.source_db, settings.source_schema, settings.source_reader_role)


def write_section(lines: list[str]) -> None:
    """Replace this preset's section of bench/results/dbt.md (from its `## ` heading to the next),
    keeping the file's other sections."""
    heading = lines[0]
    old = RESULTS.read_text() if RESULTS.exists() else "# dbt warehouse benchmark\n"
    parts = re.split(r"(?m)^(?=## )", old)
    body = "\n".join(lines).rstrip() + "\n\n"
    if any(p.startswith(heading) for p in parts):
        parts = [body if p.startswith(heading) else p for p in parts]
    else:
        parts.insert(1, body)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("".join(parts).rstrip() + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="provincial")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--as-of", default="2025-06-30")
    ap.add_argument("--reuse", action="store_true", help="keep an existing simulated source")
    ap.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    ap.add_argument("--source-db", help="clone this existing source database instead of simulating")
    ap.add_argument("--prefix", default="cwwbench_dbt", help="names of the throwaway databases and roles")
    ap.add_argument("--nights", type=int, default=2, help="simulated nights after the full build (≥ 1)")
    args = ap.parse_args()

    from cww.transform import build
    from extract.api import run_extract
    from simulator.api import advance, init_source

    prefix = args.prefix
    settings = Settings().namespaced(prefix, PROJECT_ROOT / "bench" / "scratch" / prefix)
    server = resolve_server(settings)
    rows: list[tuple[str, str]] = []
    try:
        reused = args.reuse and database_exists(server, settings.source_db)
        if args.source_db and not reused:
            _, clone_s = timed("clone source", clone_source, server, args.source_db, settings)
            rows.append((f"clone of `{args.source_db}` (not a dbt target)", f"{clone_s:.0f} s"))
            drop_database(server, settings.warehouse_db)
        elif not reused:
            as_of = dt.date.fromisoformat(args.as_of)
            _, sim_s = timed(
                "simulate", init_source, settings, args.preset, args.seed, force=True, as_of=as_of
            )
            rows.append(("simulate (not a dbt target)", f"{sim_s:.0f} s"))
            drop_database(server, settings.warehouse_db)
        label = "extract (source reused: catch-up)" if reused else "extract (first load)"
        _, ext_s = timed(label, run_extract, settings)
        rows.append((f"{label} (not a dbt target)", f"{ext_s:.0f} s"))

        full, full_s = timed("dbt build (full)", build, settings, full_refresh=True)
        load_full = os.getloadavg()
        nights: list[tuple[float, float, float, object]] = []
        for night in range(1, max(1, args.nights) + 1):
            _, adv_s = timed(f"night {night}: advance 1 day", advance, settings, 1)
            _, ext2_s = timed(f"night {night}: extract (incremental)", run_extract, settings)
            run, run_s = timed(f"night {night}: dbt build (nightly)", build, settings, nightly=True)
            nights.append((adv_s, ext2_s, run_s, run))
        incr_s = statistics.mean(n[2] for n in nights)
        load_incr = os.getloadavg()

        with server.connect(settings.warehouse_db) as conn:
            counts = dict(
                conn.execute(
                    "select 'raw.contact_note', count(*) from raw.contact_note union all"
                    " select 'raw.placement', count(*) from raw.placement union all"
                    " select 'marts.fct_children_in_care_daily', count(*)"
                    " from marts.fct_children_in_care_daily"
                    " union all select 'marts.fct_caseload_daily', count(*) from marts.fct_caseload_daily"
                    " union all select 'marts.children_in_care_current', count(*)"
                    " from marts.children_in_care_current"
                ).fetchall()
            )
            code, n_agency = conn.execute(
                "select agency_code, count(*) from marts.children_in_care_current"
                " group by 1 order by 2 desc limit 1"
            ).fetchone()
        role = agency_role(code, settings.role_prefix)
        with psycopg.connect(
            server.conninfo(settings.warehouse_db, user=role, password=role_password(role))
        ) as c:
            for _ in range(5):
                c.execute(QUERY).fetchall()  # warm the cache and the plan
            times = []
            for _ in range(50):
                t = time.perf_counter()
                got = c.execute(QUERY).fetchall()
                times.append((time.perf_counter() - t) * 1000)
            plan = "\n".join(r[0] for r in c.execute("explain (analyze, buffers) " + QUERY))
        load_query = os.getloadavg()
        assert len(got) == n_agency, (len(got), n_agency)
        median, p95 = statistics.median(times), sorted(times)[int(len(times) * 0.95) - 1]

        ratio = incr_s / full_s
        slow = sorted(full.timings.items(), key=lambda kv: -kv[1])[:12]
        slow_nights = [sorted(n[3].timings.items(), key=lambda kv: -kv[1])[:8] for n in nights]
        source = (
            f"--source-db {args.source_db}" if args.source_db else f"--seed {args.seed} --as-of {args.as_of}"
        )
        lines = [
            f"## {args.preset.capitalize()} preset: full and nightly build, agency query",
            "",
            f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} ({os.cpu_count()} cores, "
            "shared with other engineers' work), PostgreSQL 15 on 127.0.0.1. "
            f"`bench/dbt.py --preset {args.preset} {source}`; dbt in-process (dbtRunner), 2 threads. "
            f"Load average (1/5/15 min) after the full build {fmt_load(load_full)}, after the nightly "
            f"builds {fmt_load(load_incr)}, after the agency queries {fmt_load(load_query)}.",
            "",
            "| measurement | result | target | met |",
            "|---|---:|---|---|",
            *[f"| {k} | {v} | | |" for k, v in rows],
            f"| full `dbt build` (seeds, snapshots, models, all tests, --full-refresh) | {full_s:.0f} s "
            f"({full.summary()}) | ≤ 15 min | {'yes' if full_s <= 900 else 'NO'} |",
            *[
                row
                for i, (adv_s, ext2_s, night_s, run) in enumerate(nights, 1)
                for row in (
                    f"| night {i}: advance one simulated day + incremental extract (not dbt targets) "
                    f"| {adv_s:.0f} s + {ext2_s:.0f} s | | |",
                    f"| night {i}: nightly `dbt build` ({run.summary()}) "
                    f"| {night_s:.0f} s = {night_s / full_s:.0%} of full | | |",
                )
            ],
            f"| nightly `dbt build`, mean of {len(nights)} night(s) | {incr_s:.0f} s = {ratio:.0%} of full "
            f"| ≤ 20 % | {'yes' if ratio <= 0.20 else 'NO'} |",
            f"| `{QUERY}` as `{role}` ({n_agency} rows, RLS on) | median {median:.1f} ms, p95 {p95:.1f} ms "
            f"| ≤ 50 ms median | {'yes' if median <= 50 else 'NO'} |",
            "",
            "Sizes: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()) + ".",
            "",
            "Slowest nodes of the full build (seconds, as dbt reports them; 2 threads run at once):",
            "",
            *[f"- {v:.1f} {k}" for k, v in slow],
            "",
            *[
                line
                for i, slow_incr in enumerate(slow_nights, 1)
                for line in (
                    f"Slowest nodes of nightly build {i} (seconds):",
                    "",
                    *[f"- {v:.1f} {k}" for k, v in slow_incr],
                    "",
                )
            ],
            "",
            "Plan of the agency query (`explain (analyze, buffers)` as the agency's login; the policy's",
            "`current_agency_ids()` is evaluated once and the agency_id index does the filtering):",
            "",
            "```",
            plan,
            "```",
        ]
        write_section(lines)
        console.print("\n".join(lines))
    finally:
        if not args.keep:
            drop_database(server, settings.warehouse_db)
            drop_database(server, settings.source_db)
            drop_role(server, settings.source_reader_role)
            drop_roles_with_prefix(server, prefix)


if __name__ == "__main__":
    main()
