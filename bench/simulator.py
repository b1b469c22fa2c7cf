"""Simulator benchmark: build the `provincial` preset, then advance it one day.

    .venv/bin/python bench/simulator.py [--preset provincial] [--seed 42] [--as-of 2025-06-30] [--keep]

Runs `cww simulate init` and `cww simulate advance --days 1` as subprocesses against a throwaway
source database (`cwwbench_sim_source`), sampling the peak resident memory of the process and its
children with psutil. Reports rows per table, rows/s, wall time, peak memory, the advance time and
the indicator sanity checks (simulator.indicators) against the published figures. Targets
(issue 2): provincial built in ≤ 10 min with peak memory ≤ 2 GB; `advance --days 1` ≤ 30 s.
Results go to bench/results/simulator.md; the database is dropped unless --keep.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would shadow the
# `simulator` package it benchmarks.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

import psutil  # noqa: E402

from bench.peak_memory import communicate_with_peak_rss  # noqa: E402
from cww.postgres import drop_database, drop_role, resolve_server  # noqa: E402
from cww.settings import PROJECT_ROOT, Settings  # noqa: E402
from simulator.api import LOAD_TABLES, table_counts  # noqa: E402
from simulator.indicators import PUBLISHED, measure  # noqa: E402

RESULTS = PROJECT_ROOT / "bench" / "results" / "simulator.md"
DB, ROLE = "cwwbench_sim_source", "cwwbench_sim_reader"


def run_measured(args: list[str], env: dict[str, str]) -> tuple[float, int, str, float]:
    """(wall seconds, peak RSS bytes of the process tree, output tail, CPU seconds) of a command.

    CPU seconds (user + system of the command, not of the PostgreSQL server) tell how much of the
    wall time was the simulator's own work when the shared machine is busy."""
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err, peak = communicate_with_peak_rss(proc)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args)} failed ({proc.returncode}):\n{err[-3000:]}\n{out[-2000:]}")
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return seconds, peak, (out + err)[-4000:], cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="provincial")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--as-of", default="2025-06-30")
    ap.add_argument("--keep", action="store_true", help="keep the database afterwards")
    a = ap.parse_args()

    settings = Settings().model_copy(update={"source_db": DB, "source_reader_role": ROLE})
    server = resolve_server(settings)
    env = dict(os.environ, CWW_SOURCE_DB=DB, CWW_SOURCE_READER_ROLE=ROLE, COLUMNS="120")
    if not settings.pg_url:
        env["CWW_PG_URL"] = server.url
    cww = str(PROJECT_ROOT / ".venv" / "bin" / "cww")
    load = os.getloadavg()
    try:
        init_s, init_peak, init_log, init_cpu = run_measured(
            [
                cww,
                "simulate",
                "init",
                "--preset",
                a.preset,
                "--seed",
                str(a.seed),
                "--as-of",
                a.as_of,
                "--force",
            ],
            env,
        )
        counts = table_counts(server, DB)
        adv_s, adv_peak, adv_log, adv_cpu = run_measured([cww, "simulate", "advance", "--days", "1"], env)
        after = table_counts(server, DB)
        with server.connect(DB) as conn:
            ind = measure(conn)
            size = conn.execute("select pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
    finally:
        if not a.keep:
            drop_database(server, DB)
            drop_role(server, ROLE)

    total = sum(n for t, n in counts.items() if t != "sim.pending")
    lines = [
        f"# Simulator benchmark — `{a.preset}` preset",
        "",
        f"Run {dt.datetime.now().isoformat(timespec='minutes')} on {platform.node()} "
        f"({psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GB RAM), seed {a.seed}, "
        f"as-of {a.as_of}. PostgreSQL: {server.kind}. Load average at start: "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} — the machine is shared with other engineers' "
        "tests and benchmarks, so times are pessimistic.",
        "",
        "Command: `.venv/bin/python bench/simulator.py` (init and advance run as `cww simulate …` "
        "subprocesses; peak memory = resident set of the process tree, sampled every 0.2 s).",
        "",
        "| measure | value | target |",
        "|---|---:|---:|",
        f"| init wall time | {init_s:,.0f} s ({init_s / 60:.1f} min) | ≤ 600 s |",
        f"| init CPU time of the simulator process (excl. PostgreSQL) | {init_cpu:,.0f} s | |",
        f"| init peak memory | {init_peak / 2**20:,.0f} MB | ≤ 2,048 MB |",
        f"| rows written (cpin + truth) | {total:,} | |",
        f"| rows/s (whole init, incl. indexes and FK validation) | {total / init_s:,.0f} | |",
        f"| database size | {size} | |",
        f"| `advance --days 1` wall time | {adv_s:.1f} s | ≤ 30 s |",
        f"| `advance` CPU time (excl. PostgreSQL) | {adv_cpu:.1f} s | |",
        f"| `advance` peak memory | {adv_peak / 2**20:,.0f} MB | |",
        "",
        "## Rows per table",
        "",
        "| table | after init | after advance 1 day | Δ |",
        "|---|---:|---:|---:|",
    ]
    for t in LOAD_TABLES:
        lines.append(f"| {t} | {counts[t]:,} | {after[t]:,} | {after[t] - counts[t]:+,} |")
    lines += [
        "",
        "## Does it look like Ontario? (simulator.indicators, plain SQL on the source)",
        "",
        "| measure | simulated | published / target |",
        "|---|---:|---:|",
    ]
    targets = dict(
        PUBLISHED,
        children_in_care_avg_day="≈ 12,000 (provincial)",
        investigations_last_year="≈ 80,000 (provincial)",
    )
    for k, v in ind.items():
        if k in ("clock", "history_from"):
            continue
        lines.append(f"| {k} | {v if v is not None else 'n/a'} | {targets.get(k, '')} |")
    lines += [
        "",
        "## Logs (tail)",
        "",
        "```",
        init_log.strip()[-2500:],
        "",
        adv_log.strip()[-1500:],
        "```",
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines[:25]))
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
