"""`cww nightly`: the Dagster ``nightly`` job's stages, run through the libraries without Dagster.

Why a second path to the same night: a machine without a Dagster daemon (a laptop, a cron job, a
recovery by hand) still needs the whole night, in the same order and with the same gates:

    extract → checks (raw) → match persons → dbt build → checks (marts) → search → reports → dashboards

* raw suites run right after the extract, as Dagster's raw asset checks do, in nightly mode (row
  checks on the rows landed since each suite's last accepted run; ``--full``: every live row): a
  blocking failure on a person table holds back matching, and dbt leaves out what reads a failed
  table (``data_quality.expectations.gate.dbt_exclusions``, the same gate the Dagster dbt step applies);
* the CSV reports are every definition's latest complete period for the warehouse's as-of date
  (what the date-partitioned report jobs deliver that morning); blocking failures hold deliveries
  back inside ``reports.runner`` itself (``reports.holdback``);
* dashboards are re-provisioned only when a Superset started by `cww dashboards up` is running.

A stage whose prerequisite failed is skipped and says so; the exit code is non-zero when any stage
failed, with one line per failure naming the stage. ``run_nightly`` is the library entry point
(tests and bench/e2e.py call it; the CLI only prints).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import typer

from cww.console import console
from cww.errors import CwwError
from cww.settings import Settings, get_settings

# Raw suites whose blocking failure holds back person matching (the matcher's inputs).
MATCH_INPUT_SUITES = ("raw.person", "raw.person_address", "raw.person_relationship")

STAGES = ("extract", "checks_raw", "match", "dbt", "checks_marts", "search", "reports", "dashboards")


@dataclass
class StageResult:
    """One stage of the night: ok | failed | blocked (ran, found blocking data problems) | skipped."""

    name: str
    status: str = "skipped"
    seconds: float = 0.0
    rows: int | None = None
    rows_label: str = ""
    detail: str = ""
    started_at: float = 0.0  # epoch seconds (benchmarks map memory samples onto stages)
    lines: list[str] = field(default_factory=list)

    @property
    def ran_ok(self) -> bool:
        return self.status == "ok"


@dataclass
class NightlyResult:
    stages: list[StageResult]
    seconds: float
    full: bool

    @property
    def ok(self) -> bool:
        return not self.errors()

    def stage(self, name: str) -> StageResult:
        return next(s for s in self.stages if s.name == name)

    def errors(self) -> list[str]:
        """One line per stage that failed or found blocking data problems."""
        return [
            f"nightly stage {s.name} "
            f"{'failed' if s.status == 'failed' else 'found blocking problems'}: {s.detail}"
            for s in self.stages
            if s.status in ("failed", "blocked")
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "full": self.full,
            "seconds": self.seconds,
            "ok": self.ok,
            "stages": [{k: v for k, v in asdict(s).items() if k != "lines"} for s in self.stages],
        }


class _LineProgress:
    """Extract progress as one plain line per table (readable in logs and subprocess pipes)."""

    def table_started(self, table: str) -> None:
        pass

    def table_progress(self, table: str, rows: int, nbytes: int) -> None:
        pass

    def table_done(self, result: Any) -> None:
        if result.status == "ok":
            console.print(
                f"    {result.table:<22} {result.rows_read:>11,} read  +{result.inserted:,} "
                f"~{result.updated:,} -{result.deleted:,} ✗{result.rejected:,}  {result.seconds:.1f} s"
            )
        else:
            console.print(f"    {result.table:<22} [red]failed[/]: {result.error}")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


# --------------------------------------------------------------------------- the stages
# Each returns (rows, rows_label, detail, lines, status); raising means the stage failed.

StageOut = tuple[int | None, str, str, list[str], str]


def _extract(settings: Settings, full: bool, ctx: dict[str, Any]) -> StageOut:
    from extract.api import run_extract

    summary = run_extract(settings, full_refresh=full, progress=_LineProgress())
    tot = summary.totals()
    landed = int(tot["inserted"] + tot["updated"] + tot["soft_deleted"] + tot["deleted"])
    detail = (
        f"batch {summary.batch_id}: {int(tot['rows_read']):,} rows read, {int(tot['inserted']):,} inserted, "
        f"{int(tot['updated']):,} updated, {int(tot['deleted']):,} hard-deleted, "
        f"{int(tot['rejected']):,} rejected, {tot['bytes'] / 1e6:.0f} MB"
    )
    if summary.failed:
        raise CwwError(
            f"{len(summary.failed)} table(s) failed: "
            + "; ".join(f"{r.table}: {r.error}" for r in summary.failed)
            + f" ({detail})"
        )
    ctx["rows_read"] = int(tot["rows_read"])
    return landed, "rows landed", detail, [], "ok"


def _checks(settings: Settings, layer: str, full: bool, ctx: dict[str, Any]) -> StageOut:
    from data_quality.expectations.runner import run_dq, select_suites

    # Nightly mode: raw suites check the rows landed since their last accepted run (a first night
    # checks everything); --full checks every live row. Mart suites read whole marts either way.
    run = run_dq(settings, select_suites(None, layer), mode="full" if full else "nightly")
    failed = [o.suite.name for o in run.outcomes if not o.passed]
    ctx[f"failed_{layer}"] = failed
    detail = run.summary() + (f"; blocking failures in {', '.join(failed)}" if failed else "")
    lines = [f"    {line}" for line in [*run.scope_lines(), *run.failures()[:20]]]
    label = "rows validated" if run.mode == "full" else "new rows validated"
    if run.rows_checked is None:  # mart suites: whole relations, no row count kept
        label = ""
    return run.rows_checked, label, detail, lines, "blocked" if failed else "ok"


def _match(settings: Settings, full: bool, ctx: dict[str, Any]) -> StageOut:
    from data_quality.dedupe.warehouse import run_matching

    summary = run_matching(settings, full=full)
    rows = summary.persons if summary.mode == "full" else summary.changed
    label = "persons matched" if summary.mode == "full" else "new/changed persons"
    return rows, label, " ".join(summary.lines()), [], "ok"


def _dbt(settings: Settings, full: bool, ctx: dict[str, Any]) -> StageOut:
    from cww.postgres import resolve_server
    from cww.transform import build
    from data_quality.expectations.gate import dbt_exclusions

    server = resolve_server(settings)
    with server.connect(settings.warehouse_db) as conn:
        excluded = [] if full else dbt_exclusions(conn)
        before = rows_written(conn)
    # nightly=True: H1's cheap production build (no unit tests, data tests on the new rows only)
    run = build(settings, full_refresh=full, exclude=" ".join(excluded) or None, nightly=not full)
    with server.connect(settings.warehouse_db) as conn:
        written = rows_written(conn, wait_for_change_from=before) - before
    detail = run.summary() + (
        f"; not rebuilt (blocking raw checks): {' '.join(excluded)}" if excluded else ""
    )
    return written, "rows written", detail, [], "ok"


def _search(settings: Settings, full: bool, ctx: dict[str, Any]) -> StageOut:
    from data_quality.search import refresh_search

    summary = refresh_search(settings)
    return summary.persons, "person records indexed", " ".join(summary.lines()), [], "ok"


def _reports(settings: Settings, full: bool, ctx: dict[str, Any]) -> StageOut:
    from reports.runner import run_many

    batch = run_many(settings)
    rows = sum(o.rows or 0 for r in batch.results for o in r.outcomes if o.status == "delivered")
    delivered = sum(r.count("delivered") for r in batch.results)
    held = sum(r.count("held") for r in batch.results)
    lines = [f"    {r.summary()}" for r in batch.results]
    problems = list(batch.problems) + [
        f"{r.report} {o.agency} → {o.destination}: {o.status}: {o.detail}"
        for r in batch.results
        for o in r.problems
    ]
    detail = f"{delivered} files delivered ({rows:,} rows), {held} held back by data quality"
    if problems:
        raise CwwError(f"{len(problems)} problem(s): {'; '.join(problems)[:600]} ({detail})")
    return rows, "CSV rows delivered", detail, lines, "ok"


def _dashboards(settings: Settings, full: bool, ctx: dict[str, Any]) -> StageOut:
    from dashboards.demo import refresh_if_running

    lines = refresh_if_running(settings)
    if lines is None:
        return (
            None,
            "",
            "Superset is not running (`cww dashboards up` starts it): nothing to refresh",
            [],
            "ok",
        )
    return None, "", lines[0], [f"    {line}" for line in lines[1:]], "ok"


def rows_written(conn: Any, wait_for_change_from: int | None = None) -> int:
    """Rows inserted + updated + deleted in this database so far (PostgreSQL's table statistics).

    Statistics are flushed by each backend shortly after its transaction ends; when a baseline is
    given, wait up to ~2 s for the counters to move so a stage's writes are not missed.
    """
    query = "select coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) from pg_stat_user_tables"
    value = int(conn.execute(query).fetchone()[0])
    for _ in range(10):
        if wait_for_change_from is None or value != wait_for_change_from:
            break
        time.sleep(0.2)
        conn.execute("select pg_stat_clear_snapshot()")
        value = int(conn.execute(query).fetchone()[0])
    return value


# --------------------------------------------------------------------------- orchestration


def _plan(ctx: dict[str, Any], results: dict[str, StageResult]) -> dict[str, Callable[[], str | None]]:
    """Per stage: a function returning why it must be skipped (None = run it)."""

    def need(*names: str) -> str | None:
        for n in names:
            r = results.get(n)
            if r is None or r.status not in ("ok", "blocked"):
                what = "failed" if r and r.status == "failed" else "did not run"
                return f"skipped: depends on {n}, which {what}"
        return None

    def match_gate() -> str | None:
        why = need("extract", "checks_raw")
        failed = [s for s in ctx.get("failed_raw", []) if s in MATCH_INPUT_SUITES]
        return why or (
            f"skipped: blocking checks failed on its inputs ({', '.join(failed)})" if failed else None
        )

    def dbt_gate() -> str | None:
        return need("extract", "checks_raw") or (
            None if results["match"].status == "ok" else "skipped: depends on match, which did not succeed"
        )

    def dashboards_gate() -> str | None:
        why = need("dbt", "checks_marts")
        failed = ctx.get("failed_marts", [])
        return why or (f"skipped: blocking mart checks failed ({', '.join(failed)})" if failed else None)

    return {
        "extract": lambda: None,
        "checks_raw": lambda: need("extract"),
        "match": match_gate,
        "dbt": dbt_gate,
        "checks_marts": lambda: need("dbt"),
        "search": lambda: need("dbt"),
        "reports": lambda: need("dbt", "checks_marts"),
        "dashboards": dashboards_gate,
    }


def run_nightly(
    settings: Settings,
    full: bool = False,
    on_stage: Callable[[StageResult], None] | None = None,
    echo: bool = True,
) -> NightlyResult:
    """Run every stage in order; never raises for a stage's failure (it is recorded and reported)."""
    ctx: dict[str, Any] = {}
    results: dict[str, StageResult] = {}
    gates = _plan(ctx, results)
    runners: dict[str, Callable[[], StageOut]] = {
        "extract": lambda: _extract(settings, full, ctx),
        "checks_raw": lambda: _checks(settings, "raw", full, ctx),
        "match": lambda: _match(settings, full, ctx),
        "dbt": lambda: _dbt(settings, full, ctx),
        "checks_marts": lambda: _checks(settings, "marts", full, ctx),
        "search": lambda: _search(settings, full, ctx),
        "reports": lambda: _reports(settings, full, ctx),
        "dashboards": lambda: _dashboards(settings, full, ctx),
    }
    started = time.perf_counter()
    for name in STAGES:
        result = StageResult(name=name, started_at=time.time())
        results[name] = result
        skip = gates[name]()
        if skip:
            result.detail = skip
            if echo:
                console.print(f"[yellow]↷ {name}[/] {skip}")
        else:
            if echo:
                console.print(f"[bold cyan]▶ {name}[/]")
            t0 = time.perf_counter()
            try:
                result.rows, result.rows_label, result.detail, result.lines, result.status = runners[name]()
            except Exception as exc:  # a stage's failure is the night's outcome, not a crash
                result.status, result.detail = "failed", _one_line(exc)
            result.seconds = time.perf_counter() - t0
            if echo:
                _echo(result)
        if on_stage:
            on_stage(result)
    return NightlyResult([results[n] for n in STAGES], time.perf_counter() - started, full)


def _echo(r: StageResult) -> None:
    for line in r.lines:
        console.print(line)
    rows = f"{r.rows:,} {r.rows_label}, " if r.rows is not None else ""
    mark = {"ok": "[green]✓[/]", "blocked": "[yellow]![/]", "failed": "[red]✗[/]"}.get(r.status, "?")
    console.print(f"  {mark} {r.name}: {rows}{r.seconds:.1f} s — {r.detail}")


# --------------------------------------------------------------------------- CLI


def nightly_cmd(
    full: bool = typer.Option(
        False,
        "--full",
        help="Initial full build: full extract, raw checks on every live row, full person matching,"
        " dbt --full-refresh",
    ),
    json_path: Path = typer.Option(
        None, "--json", help="Also write each stage's status, seconds and rows to this JSON file"
    ),
) -> None:
    """The nightly job without Dagster: extract, checks, match, dbt, checks, search, reports, dashboards."""
    settings = get_settings()
    console.print(
        f"nightly {'full build' if full else 'incremental run'}: source {settings.source_db} → "
        f"warehouse {settings.warehouse_db}"
    )
    result = run_nightly(settings, full=full)
    if json_path:
        json_path.write_text(json.dumps(result.as_dict(), indent=2, default=str))
    done = sum(s.status == "ok" for s in result.stages)
    console.print(f"nightly: {done}/{len(result.stages)} stages ok in {result.seconds:.1f} s")
    errors = result.errors()
    for line in errors:
        console.print(f"[bold red]error:[/] {line}")
    if errors:
        raise typer.Exit(1)
