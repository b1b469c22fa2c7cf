"""Raw data-quality checks, full vs nightly mode (data_quality.expectations).

    .venv/bin/python bench/dq_raw.py [--preset demo] [--base cwwbench_dq] [--days 1] [--repeat 2]
                                     [--reuse] [--keep]

Builds a source and a warehouse (``<base>_source`` / ``<base>_warehouse``): simulate → extract →
one full run of the raw suites (the accepted starting point of nightly runs); the simulator then
advances ``--days`` days and extract lands them. On that warehouse the raw suites run in nightly
and in full mode, alternately, ``--repeat`` times each, in one process whose Great Expectations
context is already warm (a long-lived Dagster process, or the second suite of `cww nightly`).
Every timed run's marks (``dq.suite_scope``) are taken back after it, so each repetition checks
the same rows. The first nightly run on a warehouse also builds the business-key indexes and
analyzes tables without statistics: that one-off is timed on its own.

Per run: run_dq's own seconds; SQL seconds (GX's queries through SQLAlchemy, plus the one-scan
table facts of nightly mode); rows checked row by row. Results go to bench/results/dq_raw.md.
Provincial-scale runs are refused unless --allow-provincial (they take the machine for a while).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path; keep it from shadowing packages.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

from cww.console import console  # noqa: E402
from cww.postgres import database_exists, drop_database, drop_role, resolve_server  # noqa: E402
from cww.settings import PROJECT_ROOT, Settings  # noqa: E402

RESULTS = PROJECT_ROOT / "bench" / "results" / "dq_raw.md"


@dataclass
class Timing:
    """SQL time of one run, by table (GX's queries and the nightly facts scan)."""

    gx: Counter[str] = field(default_factory=Counter)
    facts: float = 0.0
    queries: int = 0

    @property
    def sql(self) -> float:
        return sum(self.gx.values()) + self.facts


CURRENT = Timing()


def _instrument() -> None:
    """Time every statement GX sends (SQLAlchemy events) and the runner's psycopg steps."""
    import re

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from data_quality.expectations import scope

    table = re.compile(r'"raw"\."(\w+)"')

    @event.listens_for(Engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        conn.info["cww_t0"] = time.perf_counter()

    @event.listens_for(Engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        m = table.search(statement)
        CURRENT.gx[m.group(1) if m else "(other)"] += time.perf_counter() - conn.info["cww_t0"]
        CURRENT.queries += 1

    def timed(fn: Callable[..., Any], attr: str) -> Callable[..., Any]:
        def wrapper(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                setattr(CURRENT, attr, getattr(CURRENT, attr) + time.perf_counter() - t0)

        return wrapper

    scope.measure = timed(scope.measure, "facts")


def one_offs(settings: Settings) -> float:
    """What the first nightly run on a warehouse does once: business-key indexes, statistics."""
    from data_quality.expectations.contract import raw_tables
    from data_quality.expectations.raw_suites import business_key_index
    from data_quality.expectations.scope import ensure_statistics

    t0 = time.perf_counter()
    with resolve_server(settings).connect(settings.warehouse_db) as conn:
        for t in raw_tables():
            ddl = business_key_index(t)
            if ddl is not None:
                conn.execute(ddl)
            ensure_statistics(conn, t)
    return time.perf_counter() - t0


def build(settings: Settings, preset: str, seed: int, as_of: dt.date, days: int) -> dict[str, float]:
    from data_quality.expectations.runner import run_dq, select_suites
    from extract.api import run_extract
    from simulator.api import advance, init_source

    steps: dict[str, float] = {}

    def step(name: str, fn: Callable[[], Any]) -> Any:
        console.print(f"[cyan]▶ {name}[/]")
        t0 = time.perf_counter()
        out = fn()
        steps[name] = time.perf_counter() - t0
        return out

    step(f"simulate {preset}", lambda: init_source(settings, preset, seed, force=True, as_of=as_of))
    step("extract (first batch)", lambda: run_extract(settings))
    first = step("raw checks, full (accepted start)", lambda: run_dq(settings, select_suites(None, "raw")))
    assert first.passed, first.failures()
    step(f"simulate +{days} day(s)", lambda: advance(settings, days))
    step("extract (the new day)", lambda: run_extract(settings))
    return steps


def timed_run(settings: Settings, mode: str) -> tuple[Any, Timing, float]:
    """One run of the raw suites; its marks are taken back so the next run sees the same rows."""
    global CURRENT
    from data_quality.expectations.runner import run_dq, select_suites

    CURRENT = Timing()
    t0 = time.perf_counter()
    run = run_dq(settings, select_suites(None, "raw"), mode=mode, record_holdback=False)
    wall = time.perf_counter() - t0
    with resolve_server(settings).connect(settings.warehouse_db) as conn:
        conn.execute("delete from dq.suite_scope where run_id = %s", (run.run_id,))
    return run, CURRENT, wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="demo")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--as-of", default="2025-06-30")
    ap.add_argument("--days", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--base", default=None, help="database/role prefix (default cwwbench_dq_<preset>)")
    ap.add_argument("--reuse", action="store_true", help="use the databases of a previous --keep run")
    ap.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    ap.add_argument("--allow-provincial", action="store_true")
    a = ap.parse_args()
    if a.preset == "provincial" and not a.allow_provincial:
        raise SystemExit("provincial takes the machine for a long while: pass --allow-provincial")

    base = a.base or f"cwwbench_dq_{a.preset}"
    settings = Settings().namespaced(base, PROJECT_ROOT / ".cww" / f"bench_{base}")
    server = resolve_server(settings)
    load_before = os.getloadavg()
    steps: dict[str, float] = {}
    try:
        if not (a.reuse and database_exists(server, settings.warehouse_db)):
            steps = build(settings, a.preset, a.seed, dt.date.fromisoformat(a.as_of), a.days)
        _instrument()
        console.print("[cyan]▶ nightly one-offs (business-key indexes, statistics)[/]")
        once = one_offs(settings)
        console.print("[cyan]▶ warm-up run (GX import and context)[/]")
        timed_run(settings, "nightly")
        runs: list[tuple[str, Any, Timing, float]] = []
        for i in range(a.repeat):
            for mode in ("nightly", "full") if i % 2 == 0 else ("full", "nightly"):
                console.print(f"[cyan]▶ {mode} run {i + 1}[/]")
                run, t, wall = timed_run(settings, mode)
                assert run.passed, run.failures()
                runs.append((mode, run, t, wall))
                console.print(f"  {run.summary()} — SQL {t.sql:.2f} s")
        load_after = os.getloadavg()
        with server.connect(settings.warehouse_db) as conn:
            live = conn.execute(
                "select sum(n_live_tup) from pg_stat_user_tables where schemaname = 'raw'"
            ).fetchone()[0]
        write(a, steps, once, runs, live, load_before, load_after)
    finally:
        if not a.keep:
            for db in (settings.source_db, settings.warehouse_db):
                drop_database(server, db)
            drop_role(server, settings.source_reader_role)


def write(
    a: argparse.Namespace,
    steps: dict[str, float],
    once: float,
    runs: list[tuple[str, Any, Timing, float]],
    live: int,
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
) -> None:
    def med(mode: str, get: Callable[[Any, Timing, float], float]) -> float:
        return statistics.median(get(r, t, w) for m, r, t, w in runs if m == mode)

    full_s, night_s = med("full", lambda r, t, w: r.seconds), med("nightly", lambda r, t, w: r.seconds)
    full_q, night_q = med("full", lambda r, t, w: t.sql), med("nightly", lambda r, t, w: t.sql)
    nightly_run = next(r for m, r, _, _ in runs if m == "nightly")
    full_t = next(t for m, _, t, _ in runs if m == "full")
    night_t = next(t for m, _, t, _ in runs if m == "nightly")
    top = [name for name, _ in full_t.gx.most_common(4)]
    lines = [
        f"# Raw data-quality checks — full vs nightly mode, `{a.preset}` preset",
        "",
        f"Run {dt.datetime.now():%Y-%m-%dT%H:%M} on {platform.node()} ({os.cpu_count()} cores),"
        f" seed {a.seed}, as-of {a.as_of}, +{a.days} simulated day(s). Load average"
        f" {load_before[0]:.1f} at start, {load_after[0]:.1f} at end.",
        "",
        "Command: `.venv/bin/python bench/dq_raw.py"
        + (f" --preset {a.preset}" if a.preset != "demo" else "")
        + "` — 17 raw suites, GX context warm, each run's marks taken back so every run checks"
        " the same rows (medians of "
        f"{a.repeat} runs per mode).",
        "",
        f"Raw tables: {int(live or 0):,} rows (all, incl. deleted)."
        f" Nightly scope: {nightly_run.scope_text()}.",
        "",
        "| measure | full | nightly | nightly / full |",
        "|---|---:|---:|---:|",
        f"| run_dq seconds (median) | {full_s:.1f} | {night_s:.1f} | {100 * night_s / full_s:.0f} % |",
        f"| SQL seconds (median; GX queries + facts scan) | {full_q:.2f} | {night_q:.2f} |"
        f" {100 * night_q / full_q:.0f} % |",
        f"| rows checked row by row | {next(r for m, r, _, _ in runs if m == 'full').rows_checked:,} |"
        f" {nightly_run.rows_checked:,} | |",
        f"| SQL statements | {full_t.queries} | {night_t.queries} | |",
        "",
        "SQL seconds of the largest tables (first run of each mode):",
        "",
        "| table | full | nightly (GX) |",
        "|---|---:|---:|",
        *[f"| {name} | {full_t.gx[name]:.2f} | {night_t.gx[name]:.2f} |" for name in top],
        f"| nightly facts scans (count + newest change, all tables) | | {night_t.facts:.2f} |",
        "",
        f"Once per warehouse, the first nightly run builds the business-key indexes of payment,"
        f" placement and contact_note and analyzes raw tables that have no statistics: {once:.1f} s.",
        "",
        "The rest of a run's seconds is Great Expectations itself (suites, validation definitions,"
        " checkpoint, Data Docs), about the same in both modes; the first run in a process also"
        " imports GX and builds its context (not counted above).",
    ]
    if steps:
        lines += ["", "Build steps: " + ", ".join(f"{k} {v:.1f} s" for k, v in steps.items()) + "."]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    console.print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
