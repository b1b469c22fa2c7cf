"""Benchmark: a week of nights with faults (simulator/soak.py), recorded in bench/results/soak.md.

Usage (by hand; the private cluster needs PostgreSQL's binaries and root → runuser postgres):
    make bench B=soak BENCH_ARGS="--preset provincial"
    .venv/bin/python bench/soak.py --preset demo [--fault-seed 8] [--as-of 2025-06-30] [--port 54391]

Runs everything on its own private PostgreSQL cluster under /tmp/cwwsoak_bench (one fault restarts
the server), prints the per-night table and writes it with the machine's load average.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Not the bench folder itself: bench/dbt.py would shadow the dbt package.
sys.path[0] = str(ROOT)

from simulator.soak import SoakConfig, run_soak  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="demo")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--as-of", type=date.fromisoformat, default=date(2025, 6, 30))
    p.add_argument("--fault-seed", type=int, default=8)
    p.add_argument("--port", type=int, default=54391)
    p.add_argument("--home", type=Path, default=Path("/tmp/cwwsoak_bench"))
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "soak.md")
    a = p.parse_args()
    shutil.rmtree(a.home, ignore_errors=True)
    loads: list[tuple[float, float, float]] = [os.getloadavg()]

    def log(line: str) -> None:
        loads.append(os.getloadavg())
        print(line, flush=True)

    start = time.perf_counter()
    result = run_soak(
        SoakConfig(a.preset, a.seed, a.as_of, fault_seed=a.fault_seed, home=a.home, port=a.port, log=log)
    )
    wall = time.perf_counter() - start
    loads.append(os.getloadavg())
    shutil.rmtree(a.home, ignore_errors=True)
    table = result.table()
    print("\n".join(table))
    one_minute = [x[0] for x in loads]
    text = [
        "# Soak: a week of nights with faults",
        "",
        f"`bench/soak.py --preset {a.preset} --seed {a.seed} --as-of {a.as_of} --fault-seed {a.fault_seed}` "
        f"on {platform.node()} ({os.cpu_count()} cores), "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        f"Total {wall / 60:.1f} min (set-up {result.setup_s:.0f} s); load average (1 min) during the run "
        f"{min(one_minute):.1f}–{max(one_minute):.1f} — a machine shared with other work.",
        f"Result: **{'every night recovered and every check was exact' if result.ok else 'PROBLEMS'}**.",
        "",
        *table,
        "",
        "Checks after every night: `reconcile` exact; `data_quality.crosscheck` (children in care and every",
        "indicator recomputed from the source with plain SQL) equal to the marts; the roster delivered",
        "exactly once per agency × date to the folder and by e-mail (delivery log and the SMTP inbox);",
        "`extract_meta.rejected_rows` = exactly the injected bad rows. Night 0 is the initial build",
        "(libraries, as `cww demo` does); nights 1–7 run the Dagster `nightly` job and the daily",
        "reports job.",
        "",
    ]
    a.out.write_text("\n".join(text))
    print(f"wrote {a.out}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
