"""Running a report for a period: hold-back check, produce per agency, deliver exactly once.

For each file (agency or PROVINCIAL) and each destination that wants it, the delivery log decides:

* ``delivered``  → nothing to do (a re-run of the same night sends nothing again);
* ``failed``     → retried once its backoff has passed, with the very file recorded the first time;
  after ``retry.max_attempts`` it is *exhausted* and the run fails (Dagster shows a failure);
* ``sending``    → the previous run died mid-send: ask the destination whether it holds that exact
  file (folder, SFTP compare SHA-256); only if not, send again. Email cannot be asked: see
  ``reports.destinations.email`` for the resend / hold choice;
* ``held``       → the night's blocking data-quality checks had failed; sent once they pass.

Earlier periods with outstanding deliveries are retried by every run of the same report, so a
failure on Monday is retried by Tuesday's run without anyone backfilling by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from cww.errors import CwwError
from cww.postgres import Server, resolve_server
from cww.settings import Settings
from reports import delivery_log as log
from reports import failpoints
from reports.destinations import sender_for
from reports.destinations.base import DeliveryError, SendContext
from reports.holdback import blocking_failures
from reports.loading import DefinitionError, LoadedDefinition, Problem, load_all, secret_problems
from reports.produce import Produced, ProduceError, file_name_for, produce, reuse, variant
from reports.spec import PROVINCIAL
from reports.windows import Window, last_complete_window, today_toronto, window_for

AGENCY_MAP = "reporting.agency_roles"  # dbt model agency_roles: agency_id, agency_code, role_name


@dataclass(frozen=True)
class Outcome:
    """What happened to one delivery unit in this run."""

    report: str
    period: str
    agency: str
    destination: str
    # delivered | already-delivered | failed | waiting | exhausted | held | uncertain | dry-run | error
    status: str
    detail: str = ""
    rows: int | None = None
    file: str | None = None


@dataclass
class RunResult:
    report: str
    periods: list[str] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    skipped: str | None = None  # the whole report was skipped, and why

    def count(self, *statuses: str) -> int:
        return sum(1 for o in self.outcomes if o.status in statuses)

    @property
    def problems(self) -> list[Outcome]:
        """Outcomes that need a person: exhausted retries, uncertain email, production errors."""
        return [o for o in self.outcomes if o.status in ("exhausted", "uncertain", "error")]

    def summary(self) -> str:
        if self.skipped:
            return f"{self.report}: skipped — {self.skipped}"
        parts = []
        for status in (
            "delivered",
            "already-delivered",
            "dry-run",
            "held",
            "waiting",
            "failed",
            "exhausted",
            "uncertain",
            "error",
        ):
            n = self.count(status)
            if n:
                parts.append(f"{n} {status}")
        return f"{self.report} {', '.join(self.periods)}: {', '.join(parts) or 'nothing to deliver'}"


def agencies(conn: psycopg.Connection) -> list[str]:
    """Agency codes from dbt's role mapping (the same list RLS and Superset use)."""
    if conn.execute("select to_regclass(%s)", (AGENCY_MAP,)).fetchone() == (None,):
        raise CwwError(
            f"{AGENCY_MAP} does not exist in the warehouse: per-agency reports need the agency logins "
            "dbt creates. Fix: run `cww dbt build` first."
        )
    return [r[0] for r in conn.execute(f"select agency_code from {AGENCY_MAP} order by agency_code")]


def relation_columns(conn: psycopg.Connection, qualified: str) -> list[str] | None:
    """Column names of a table/view, or None when it does not exist."""
    row = conn.execute("select to_regclass(%s)::oid", (qualified,)).fetchone()
    if row is None or row[0] is None:
        return None
    return [
        r[0]
        for r in conn.execute(
            "select attname from pg_attribute where attrelid = %s and attnum > 0 and not attisdropped",
            (row[0],),
        )
    ]


def preflight(conn: psycopg.Connection, loaded: LoadedDefinition) -> str | None:
    """Check the definition against this warehouse and environment.

    Returns a skip message for an optional report whose view is not there yet; raises
    DefinitionError (file:line, key, fix) for anything else that would make the run fail.
    """
    d = loaded.definition
    problems: list[Problem] = []
    if d.view:
        cols = relation_columns(conn, d.view)
        if cols is None:
            if d.optional:
                return f"view {d.view} does not exist yet (optional report: it arrives with its mart)"
            raise DefinitionError(
                str(
                    loaded.problem(
                        f"{d.view} does not exist in the warehouse. Fix: check the name, or run "
                        "dbt to build it",
                        "view",
                    )
                )
            )
        for i, c in enumerate(d.columns):
            if c.column not in cols:
                problems.append(
                    loaded.problem(f"{d.view} has no column {c.column!r}", "columns", i, "column")
                )
        for i, s in enumerate(d.sort):
            if s.column not in cols:
                problems.append(loaded.problem(f"{d.view} has no column {s.column!r}", "sort", i, "column"))
        if d.date_column and d.date_column not in cols:
            problems.append(loaded.problem(f"{d.view} has no column {d.date_column!r}", "date_column"))
    else:
        from reports.produce import build_query

        try:
            with conn.transaction(force_rollback=True):
                conn.execute(
                    sql.SQL("select * from ({}) as q limit 0").format(build_query(d)),
                    {"period_start": date.today(), "period_end": date.today(), "agency": ""},
                )
        except psycopg.Error as exc:
            msg = str(exc).strip().splitlines()[0]
            if d.optional and isinstance(exc, psycopg.errors.UndefinedTable):
                return f"its SQL reads a relation that does not exist yet ({msg})"
            problems.append(loaded.problem(f"the SQL does not run: {msg}", "sql"))
    problems.extend(secret_problems(loaded))
    if problems:
        raise DefinitionError("; ".join(str(p) for p in problems))
    return None


AS_OF_RELATIONS = ("intermediate.int_as_of_date", "reporting.as_of_date")


def warehouse_as_of(conn: psycopg.Connection) -> date:
    """The night the warehouse holds (dbt's one-row as-of model), else yesterday in Toronto.

    dbt derives it from the data, never the wall clock; the fallback only serves a warehouse
    without dbt models (tests, a first run).
    """
    for rel in AS_OF_RELATIONS:
        if conn.execute("select to_regclass(%s)", (rel,)).fetchone() != (None,):
            schema, name = rel.split(".")
            row = conn.execute(
                sql.SQL("select max(as_of_date) from {}").format(sql.Identifier(schema, name))
            ).fetchone()
            if row and row[0]:
                return row[0]
    return today_toronto() - timedelta(days=1)


class _Run:
    """One report run: shared connection, produced files, outcomes."""

    def __init__(
        self,
        settings: Settings,
        server: Server,
        loaded: LoadedDefinition,
        conn: psycopg.Connection,
        dry_run: bool,
        log_ready: bool,
        on_outcome: Callable[[Outcome], None] | None,
    ) -> None:
        self.settings = settings
        self.server = server
        self.loaded = loaded
        self.d = loaded.definition
        self.conn = conn
        self.dry_run = dry_run
        self.log_ready = log_ready
        self.on_outcome = on_outcome
        self.result = RunResult(self.d.name)

    def emit(
        self,
        window: Window,
        agency: str,
        dest_key: str,
        status: str,
        detail: str = "",
        produced: Produced | None = None,
    ) -> None:
        o = Outcome(
            self.d.name,
            window.period,
            agency,
            dest_key,
            status,
            detail,
            produced.rows if produced else None,
            str(produced.path) if produced else None,
        )
        self.result.outcomes.append(o)
        if self.on_outcome:
            self.on_outcome(o)

    def window(self, window: Window, units: list[str], held: list[str]) -> None:
        if window.period not in self.result.periods:
            self.result.periods.append(window.period)
        for agency in units:
            dests = [dest for dest in self.d.destinations if dest.applies_to(agency)]
            if dests:
                self.unit(window, agency, dests, held)

    def unit(self, window: Window, agency: str, dests: list, held: list[str]) -> None:
        files: dict[tuple[bool, str], Produced] = {}
        base: list[Produced] = []

        def file_for(dest, row: dict | None) -> Produced:
            if row and row.get("checksum"):
                again = reuse(
                    self.settings, self.d, window, agency, row["checksum"], row["file_name"], row["row_count"]
                )
                if again is not None:
                    return again
            want = (
                self.d.csv.bom if dest.bom is None else dest.bom,
                dest.line_ending or self.d.csv.line_ending,
            )
            if want not in files:
                if not base:
                    base.append(produce(self.settings, self.server, self.d, agency, window))
                files[want] = variant(self.settings, self.d, window, agency, base[0], self.d.csv, *want)
            return files[want]

        for dest in dests:
            key = log.Key(self.d.name, window.start, agency, dest.key)
            try:
                self.deliver(window, agency, dest, key, held, file_for)
            except ProduceError as exc:
                self.emit(window, agency, dest.key, "error", str(exc))
                return  # the same login/query fails for every destination of this file

    def deliver(self, window: Window, agency: str, dest, key: log.Key, held: list[str], file_for) -> None:
        row = log.get(self.conn, key) if self.log_ready else None
        status = row["status"] if row else None
        if status == "delivered":
            self.emit(window, agency, dest.key, "already-delivered", row["receipt"] or "")
            return
        if status == "uncertain":
            self.emit(
                window,
                agency,
                dest.key,
                "uncertain",
                f"{row['last_error']}. Fix: check the recipient, then `cww report resend`.",
            )
            return
        if self.dry_run:
            produced = file_for(dest, None)
            self.emit(
                window,
                agency,
                dest.key,
                "dry-run",
                f"would send {produced.file_name} ({produced.rows} rows)",
                produced,
            )
            return
        if held:
            log.mark_held(self.conn, key, "blocking data-quality checks failed: " + "; ".join(held))
            self.emit(window, agency, dest.key, "held", "; ".join(held))
            return
        if status == "failed" and row["attempts"] >= self.d.retry.max_attempts:
            self.emit(
                window,
                agency,
                dest.key,
                "exhausted",
                f"{row['attempts']} attempts failed, last: {row['last_error']}",
            )
            return
        if status == "failed" and row["next_attempt_at"] is not None:
            now = self.conn.execute("select now()").fetchone()[0]
            if row["next_attempt_at"] > now:
                self.emit(
                    window,
                    agency,
                    dest.key,
                    "waiting",
                    f"retry after {row['next_attempt_at']:%Y-%m-%d %H:%M} ({row['last_error']})",
                )
                return
        if not log.try_lock(self.conn, key):
            self.emit(window, agency, dest.key, "waiting", "another run is delivering this right now")
            return
        try:
            self._send(window, agency, dest, key, row, file_for)
        finally:
            log.unlock(self.conn, key)

    def _send(self, window: Window, agency: str, dest, key: log.Key, row: dict | None, file_for) -> None:
        row = log.get(self.conn, key) or row  # re-read under the lock: another run may have finished it
        if row and row["status"] == "delivered":
            self.emit(window, agency, dest.key, "already-delivered", row["receipt"] or "")
            return
        sender = sender_for(dest, self.settings)
        produced = file_for(dest, row)
        ctx = SendContext(
            self.d.name,
            self.d.title,
            self.d.description,
            agency,
            window.period,
            produced.file_name,
            produced.checksum,
            produced.rows,
        )
        if row and row["status"] == "sending":
            # The previous run died between send and log write. Was it delivered?
            try:
                there = sender.holds(ctx) if produced.checksum == row["checksum"] else False
            except DeliveryError as exc:
                attempt = int(row["attempts"])
                log.mark_failed(
                    self.conn,
                    key,
                    attempt,
                    f"checking an interrupted send: {exc}",
                    self.d.retry.backoff_minutes,
                )
                self.emit(window, agency, dest.key, "failed", str(exc), produced)
                return
            if there:
                log.mark_delivered(
                    self.conn,
                    key,
                    int(row["attempts"]),
                    f"found at destination after an interrupted run ({produced.file_name})",
                    outcome="already-there",
                )
                self.emit(
                    window, agency, dest.key, "delivered", "was already there (interrupted run)", produced
                )
                return
            if there is None and getattr(dest, "on_uncertain", "resend") == "hold":
                log.mark_uncertain(
                    self.conn,
                    key,
                    int(row["attempts"]),
                    "an interrupted send may or may not have arrived (on_uncertain: hold)",
                )
                self.emit(
                    window, agency, dest.key, "uncertain", "interrupted send; held for a person", produced
                )
                return
        attempt = log.mark_sending(
            self.conn, key, produced.file_name, produced.checksum, produced.rows, produced.size
        )
        failpoints.hit("before-send", dest.key)
        try:
            receipt = sender.send(produced.path, ctx)
        except DeliveryError as exc:
            log.mark_failed(self.conn, key, attempt, str(exc), self.d.retry.backoff_minutes)
            status = "exhausted" if attempt >= self.d.retry.max_attempts else "failed"
            self.emit(window, agency, dest.key, status, f"attempt {attempt}: {exc}", produced)
            return
        failpoints.hit("after-send", dest.key)
        log.mark_delivered(self.conn, key, attempt, receipt)
        self.emit(window, agency, dest.key, "delivered", receipt, produced)


def run_report(
    settings: Settings,
    loaded: LoadedDefinition,
    day: date | None = None,
    agency: str | None = None,
    dry_run: bool = False,
    server: Server | None = None,
    retry_earlier: bool = True,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> RunResult:
    """Run one report for the window containing ``day`` (default: the last complete one).

    Raises DefinitionError for a definition this warehouse cannot run; returns outcomes otherwise
    (failed sends are outcomes, not exceptions: they are retried by later runs).
    """
    server = server or resolve_server(settings)
    d = loaded.definition
    with server.connect(settings.warehouse_db) as conn:
        skip = preflight(conn, loaded)
        if skip:
            return RunResult(d.name, skipped=skip)
        if not dry_run:
            log.ensure_schema(conn)
        log_ready = conn.execute("select to_regclass('reports.delivery_log')").fetchone() != (None,)
        codes = agencies(conn) if "per_agency" in d.split else []
        if agency not in (None, PROVINCIAL) and "per_agency" in d.split and agency not in codes:
            raise CwwError(f"agency {agency!r} is not in {AGENCY_MAP}. Known: {', '.join(codes)}")
        units = d.units(codes)
        if agency is not None:
            units = [u for u in units if u == agency]  # --agency: that file only
        held = blocking_failures(conn) if log_ready else []
        window = (
            window_for(d.schedule, day) if day else last_complete_window(d.schedule, warehouse_as_of(conn))
        )
        run = _Run(settings, server, loaded, conn, dry_run, log_ready, on_outcome)
        if retry_earlier and log_ready and not dry_run:
            earlier = sorted(
                {
                    r["period"]
                    for r in log.outstanding(conn, d.name, d.retry.max_attempts)
                    if r["period"] != window.start and (agency is None or r["agency"] == agency)
                }
            )
            for period in earlier:
                run.window(window_for(d.schedule, period), units, held)
        run.window(window, units, held)
        return run.result


@dataclass
class BatchResult:
    results: list[RunResult]
    problems: list[str]  # definitions that could not run (file:line, key, message)

    @property
    def ok(self) -> bool:
        return not self.problems and not any(r.problems for r in self.results)


def run_many(
    settings: Settings,
    names: list[str] | None = None,
    day: date | None = None,
    agency: str | None = None,
    dry_run: bool = False,
    directory: Path | None = None,
    server: Server | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> BatchResult:
    """Run several reports; a broken definition is reported and the others still run."""
    server = server or resolve_server(settings)
    good, bad = load_all(directory)
    problems = [str(p) for p in bad if names is None or p.file.stem in names]
    results: list[RunResult] = []
    for loaded in good:
        if names is not None and loaded.definition.name not in names:
            continue
        try:
            results.append(run_report(settings, loaded, day, agency, dry_run, server, on_outcome=on_outcome))
        except CwwError as exc:
            problems.append(str(exc))
        except psycopg.Error as exc:  # one report's database trouble must not stop the others
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            problems.append(f"{loaded.file.name}: {type(exc).__name__}: {first}")
    return BatchResult(results, problems)


def file_name_preview(loaded: LoadedDefinition, agency: str, day: date) -> str:
    return file_name_for(loaded.definition, agency, window_for(loaded.definition.schedule, day))
