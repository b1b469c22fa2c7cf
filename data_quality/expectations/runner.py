"""Validate the warehouse with the suites, store the results in ``dq``, publish Data Docs.

One call = one run: build tonight's suites (volume bounds from the ``dq`` baselines, dates from
the as-of date), add-or-update them in a Great Expectations context that reads the warehouse,
validate them in one checkpoint (which also renders the Data Docs into ``<home>/data_docs``),
store every result, and record each suite's blocking status through the reports hold-back hook
so a bad night's CSV deliveries wait.

``mode``: ``full`` validates every live raw row; ``nightly`` (what `cww nightly` and the Dagster
nightly job run) validates row by row only the raw rows landed since each suite's last accepted
run and measures the table-level facts in one scan (``scope``, ``raw_suites``). Mart suites read
their whole relation in both modes. The mode and each raw suite's batch range are stored
(``dq.run.mode``, ``dq.suite_scope``) and printed.

Great Expectations is imported inside functions (7–11 s); the context is ephemeral (nothing on
disk but the docs folder we name) and cached per process and warehouse, so Dagster running one
check step per suite pays for it once.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from cww.errors import CwwError
from cww.postgres import Server, resolve_server
from cww.settings import Settings
from data_quality.expectations import scope as scoping
from data_quality.expectations import store
from data_quality.expectations.contract import RawTable, raw_tables
from data_quality.expectations.mart_suites import mart_suites
from data_quality.expectations.messages import describe, observed_text
from data_quality.expectations.raw_suites import business_key_index, raw_suites
from data_quality.expectations.spec import Suite, gx_suite_name, suite_asset_name

DATASOURCE = "cww_warehouse"
SITE = "cww_data_docs"


def docs_dir(settings: Settings) -> Path:
    """Where the static Data Docs site lives (``.cww/data_docs`` by default)."""
    return settings.home / "data_docs"


@dataclass
class SuiteOutcome:
    suite: Suite
    rows: list[store.ResultRow]

    @property
    def blocking_failures(self) -> list[store.ResultRow]:
        return [r for r in self.rows if r.blocking and not r.passed]

    @property
    def warnings(self) -> list[store.ResultRow]:
        return [r for r in self.rows if not r.blocking and not r.passed]

    @property
    def passed(self) -> bool:
        """No blocking failure (warnings do not fail a suite)."""
        return not self.blocking_failures


@dataclass
class DqRun:
    run_id: str
    as_of: date | None
    outcomes: list[SuiteOutcome]
    seconds: float
    docs_index: Path
    skipped: list[str] = field(default_factory=list)
    mode: str = "full"
    scopes: list[store.ScopeRow] = field(default_factory=list)  # one per raw suite run

    @property
    def rows(self) -> list[store.ResultRow]:
        return [r for o in self.outcomes for r in o.rows]

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outcomes)

    def outcome(self, suite: str) -> SuiteOutcome:
        for o in self.outcomes:
            if o.suite.name == suite:
                return o
        raise KeyError(suite)

    def failures(self) -> list[str]:
        """Messages of every failed expectation, blocking first."""
        rows = sorted((r for r in self.rows if not r.passed), key=lambda r: (not r.blocking, r.suite))
        return [f"{'BLOCKING' if r.blocking else 'warning'}: {r.message}" for r in rows]

    @property
    def rows_checked(self) -> int | None:
        """Raw rows the row-level checks read (new rows in a nightly run); None: no raw suite."""
        counts = [x.rows_checked for x in self.scopes if x.rows_checked is not None]
        return sum(counts) if counts else None

    def scope_text(self) -> str:
        """Which raw rows the run checked, in one phrase (e.g. "1,204 new raw rows since batch 12")."""
        nightly = [x for x in self.scopes if x.mode == "nightly"]
        whole = [x for x in self.scopes if x.mode != "nightly"]
        parts = []
        if nightly:
            n = sum(x.rows_checked or 0 for x in nightly)
            marks = sorted({x.after_batch for x in nightly if x.after_batch is not None})
            since = f"batch {marks[0]}" if len(marks) == 1 else f"batches {marks[0]}–{marks[-1]}"
            parts.append(f"{n:,} new raw rows since {since} in {len(nightly)} tables")
        if whole:
            n = sum(x.rows_checked or 0 for x in whole)
            why = sorted({x.reason for x in whole if x.reason})
            parts.append(
                f"all {n:,} live raw rows of {len(whole)} tables" + (f" ({'; '.join(why)})" if why else "")
            )
        return ", ".join(parts)

    def scope_lines(self) -> list[str]:
        """One line per raw suite: "raw.person: 739 new rows since batch 12"."""
        return [
            f"{x.suite}: "
            + scoping.Scope(x.mode, x.after_batch, x.upto_batch, x.reason).describe(x.rows_checked)
            + ("" if x.accepted else " — not accepted: checked again next night")
            for x in self.scopes
        ]

    def summary(self) -> str:
        total = len(self.rows)
        ok = sum(r.passed for r in self.rows)
        blocking = sum(1 for r in self.rows if r.blocking and not r.passed)
        warn = sum(1 for r in self.rows if not r.blocking and not r.passed)
        scope = self.scope_text()
        return (
            f"{self.mode} run: {len(self.outcomes)} suites, {total} expectations: {ok} passed, "
            f"{blocking} blocking failures, {warn} warnings in {self.seconds:.1f} s"
            + (f"; {scope}" if scope else "")
        )

    def lines(self) -> list[str]:
        out = [self.summary(), *self.failures()]
        if self.skipped:
            out.append(f"not run (relation not built yet): {', '.join(self.skipped)}")
        out.append(f"Data Docs: {self.docs_index}")
        return out


# --------------------------------------------------------------------------- warehouse facts


def _relation_exists(conn: psycopg.Connection, relation: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (relation,)).fetchone()[0]


def as_of_date(conn: psycopg.Connection) -> date | None:
    """The warehouse's night: the latest source change landed in raw (as dbt's int_as_of_date).

    Like dbt, read from extract's watermarks (per table, the greatest source updated_at landed)
    when they exist: one small read instead of a scan of every raw table per run (and Dagster
    runs one per suite).
    """
    tables = [t.name for t in raw_tables() if t.has_updated_at]
    if _relation_exists(conn, "extract_meta.watermarks"):
        row = conn.execute(
            "select max(watermark)::date from extract_meta.watermarks where table_name = any(%s)", (tables,)
        ).fetchone()
        if row[0] is not None:
            return row[0]
    parts = [
        sql.SQL("select max(_source_updated_at) as u from {}").format(sql.Identifier("raw", t.name))
        for t in raw_tables()
        if t.has_updated_at and _relation_exists(conn, f'raw."{t.name}"')
    ]
    if not parts:
        return None
    row = conn.execute(
        sql.SQL("select max(u)::date from ({}) as x").format(sql.SQL(" union all ").join(parts))
    )
    return row.fetchone()[0]


def build_suites(
    conn: psycopg.Connection,
    now: datetime,
    as_of: date | None,
    scopes: dict[str, scoping.Scope] | None = None,
    facts: dict[str, scoping.Facts] | None = None,
) -> list[Suite]:
    """Tonight's suites: raw (bounds from the dq baselines, rows by scope) then marts."""
    return raw_suites(as_of or now.date(), store.baselines(conn), now, scopes, facts) + mart_suites()


def _nightly_inputs(
    conn: psycopg.Connection, mode: str, suites: list[Suite]
) -> tuple[dict[str, scoping.Scope], dict[str, scoping.Facts]]:
    """Scope per raw suite and, for the scoped ones, the table facts (one scan each)."""
    wanted = {s.name for s in suites}
    tables: list[RawTable] = [t for t in raw_tables() if t.relation in wanted]
    marks = store.accepted_marks(conn) if mode == "nightly" else {}
    scopes = scoping.resolve(conn, mode, tables, marks)
    facts: dict[str, scoping.Facts] = {}
    for t in tables:
        sc = scopes[t.relation]
        if sc.after is None:
            continue
        ddl = business_key_index(t)
        if ddl is not None:  # once per table (a few seconds at provincial scale), then a no-op
            conn.execute(ddl)
        scoping.ensure_statistics(conn, t)  # or the planner reads the table for tonight's rows
        facts[t.relation] = scoping.measure(conn, t, sc.after)
    return scopes, facts


def suite_names() -> list[str]:
    """Every suite name, without touching the warehouse (Dagster wiring, listings)."""
    return [s.name for s in suites_for_wiring()]


def suites_for_wiring() -> list[Suite]:
    """Every suite with placeholder dates (only names and asset keys matter for wiring)."""
    now = datetime.now(UTC)
    return raw_suites(now.date(), {}, now) + mart_suites()


# --------------------------------------------------------------------------- Great Expectations

_CONTEXTS: dict[tuple[str, str], Any] = {}


def gx_context(server: Server, settings: Settings) -> Any:
    """An ephemeral GX context reading the warehouse, Data Docs in our folder (cached per process)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    url = server.sqlalchemy_url(settings.warehouse_db)
    folder = docs_dir(settings)
    key = (url, str(folder))
    if key in _CONTEXTS:
        return _CONTEXTS[key]
    folder.mkdir(parents=True, exist_ok=True)
    config = DataContextConfig(
        # init_temp_docs_sites=False: the default would render into a fresh temp folder and leave it.
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        data_docs_sites={
            SITE: {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(folder)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        },
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    context = gx.get_context(project_config=config, mode="ephemeral")
    # The context (and its engine) is cached per process: test a pooled connection before use,
    # so a warehouse restart between two runs costs a reconnect, not a failed check step.
    context.data_sources.add_postgres(DATASOURCE, connection_string=url, kwargs={"pool_pre_ping": True})
    _CONTEXTS[key] = context
    return context


def upsert_suite(context: Any, suite: Suite) -> list[Any]:
    """Add or update the suite's GX query assets, expectation suites and validation definitions,
    one per part (``Suite.part_names``; idempotent)."""
    return [_upsert_part(context, suite, part) for part in suite.part_names]


def _upsert_part(context: Any, suite: Suite, part: str) -> Any:
    import great_expectations as gx
    import great_expectations.expectations as gxe

    name = suite_asset_name(suite.name, part)
    query = suite.part_query(part)
    datasource = context.data_sources.get(DATASOURCE)
    try:
        asset = datasource.get_asset(name)
        if asset.query != query:
            datasource.delete_asset(name)
            raise LookupError
    except LookupError:
        asset = datasource.add_query_asset(name, query=query)
    batch = next((b for b in asset.batch_definitions if b.name == "whole"), None)
    if batch is None:
        batch = asset.add_batch_definition_whole_table("whole")

    expectations = []
    for i, check in enumerate(suite.checks):
        if check.part != part:
            continue
        cls = getattr(gxe, check.kind)
        expectations.append(
            cls(
                **check.kwargs,
                severity="critical" if check.blocking else "warning",
                description=check.why or None,
                meta={"cww_check": i, "blocking": check.blocking},
            )
        )
    gx_suite = context.suites.add_or_update(
        gx.ExpectationSuite(name=gx_suite_name(suite.name, part), expectations=expectations)
    )
    return context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=name, data=batch, suite=gx_suite)
    )


def _checkpoint(context: Any, validations: list[Any]) -> Any:
    import great_expectations as gx

    return context.checkpoints.add_or_update(
        gx.Checkpoint(
            name="cww_" + uuid.uuid4().hex[:8],
            validation_definitions=validations,
            # No UpdateDataDocsAction: it rebuilds the whole site once per validation (0.4 s each);
            # run_dq builds it once after the checkpoint instead.
            actions=[],
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": 20},
        )
    )


def _rows(
    suite: Suite, validation_result: Any
) -> tuple[list[tuple[int, store.ResultRow]], tuple[int, bool] | None]:
    """(check index, stored row) per result of one part's validation, and the volume if measured."""
    rows: list[tuple[int, store.ResultRow]] = []
    volume: tuple[int, bool] | None = None
    for r in validation_result.results:
        config = r.expectation_config
        index = int(config.meta["cww_check"])
        check = suite.checks[index]
        result = dict(r.result or {})
        passed = bool(r.success)
        message = describe(suite, check, result, passed)
        info = r.exception_info or {}
        if info.get("raised_exception"):
            passed = False
            error = info.get("exception_message")
            message = f"{suite.relation}.{check.column or '*'}: {check.kind} could not run: {error}"
        rows.append(
            (
                index,
                store.ResultRow(
                    suite=suite.name,
                    expectation=config.type,
                    column=check.column,
                    observed=observed_text(result),
                    unexpected_count=result.get("unexpected_count"),
                    element_count=result.get("element_count"),
                    passed=passed,
                    blocking=check.blocking,
                    message=message,
                ),
            )
        )
        if check.context.get("volume") and isinstance(result.get("observed_value"), int):
            volume = (result["observed_value"], passed)
    return rows, volume


# --------------------------------------------------------------------------- the run


def _record_holdback(conn: psycopg.Connection, as_of: date, outcomes: list[SuiteOutcome]) -> None:
    """Each suite's blocking status for the night, where report runs look before delivering."""
    from reports.delivery_log import ensure_schema
    from reports.holdback import record_check

    ensure_schema(conn)
    for o in outcomes:
        detail = "; ".join(r.message for r in o.blocking_failures)
        record_check(conn, as_of, f"dq {o.suite.name}", o.passed, detail)


def run_dq(
    settings: Settings,
    suites: Iterable[str] | None = None,
    *,
    record_holdback: bool = True,
    server: Server | None = None,
    mode: str = "full",
) -> DqRun:
    """Validate the named suites (default: every suite whose relation exists) and store the run.

    ``mode``: "full" (every live raw row) or "nightly" (raw rows landed since each suite's last
    accepted run; a suite never accepted is validated whole). Raises CwwError when a suite asked
    for by name cannot run (unknown name, relation missing) or the mode is unknown.
    """
    if mode not in scoping.MODES:
        raise CwwError(f"unknown data-quality mode {mode!r}. Fix: pick from {list(scoping.MODES)}.")
    started = time.perf_counter()
    now = datetime.now(UTC)
    server = server or resolve_server(settings)
    wanted = list(suites) if suites is not None else None
    run_id = now.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    with server.connect(settings.warehouse_db) as conn:
        store.ensure_schema(conn)
        as_of = as_of_date(conn)
        all_suites = build_suites(conn, now, as_of)
        by_name = {s.name: s for s in all_suites}
        if wanted is not None:
            unknown = [n for n in wanted if n not in by_name]
            if unknown:
                raise CwwError(f"unknown data-quality suite(s) {unknown}. Fix: pick from {sorted(by_name)}.")
        chosen = [by_name[n] for n in wanted] if wanted is not None else all_suites
        runnable = [s for s in chosen if _relation_exists(conn, _base_relation(s))]
        skipped = [s.name for s in chosen if s not in runnable]
        if wanted is not None and skipped:
            raise CwwError(
                f"cannot validate {skipped}: the relation does not exist in {settings.warehouse_db}. "
                "Fix: run `cww extract` (raw) and `cww dbt build` (marts) first."
            )
        if not runnable:
            raise CwwError(
                f"nothing to validate in {settings.warehouse_db}: no raw tables. "
                "Fix: run `cww extract` first."
            )
        # The raw suites again, each reading the rows of its scope (full: every live row).
        scopes, facts = _nightly_inputs(conn, mode, runnable)
        if facts:
            scoped = {s.name: s for s in build_suites(conn, now, as_of, scopes, facts)}
            runnable = [scoped[s.name] for s in runnable]
        by_name = {s.name: s for s in runnable}
        store.start_run(conn, run_id, now, as_of, [s.name for s in runnable], mode)

        context = gx_context(server, settings)
        validations = [v for s in runnable for v in upsert_suite(context, s)]
        parts = {gx_suite_name(s.name, p): s for s in runnable for p in s.part_names}
        try:
            result = _checkpoint(context, validations).run()
        finally:
            # No idle connections left on the warehouse between runs (a long-lived Dagster
            # process would otherwise hold them all night, and block dropping test databases).
            context.data_sources.get(DATASOURCE).get_engine().dispose()
        # Only this run's pages (the cached context remembers earlier runs); the index is rebuilt.
        context.build_data_docs(site_names=[SITE], resource_identifiers=list(result.run_results))
        results: dict[str, list[tuple[int, store.ResultRow]]] = {s.name: [] for s in runnable}
        volumes: dict[str, tuple[int, bool]] = {}
        for vr in result.run_results.values():
            suite = parts[vr.suite_name]
            rows, volume = _rows(suite, vr)
            results[suite.name].extend(rows)
            if volume is not None:
                volumes[suite.name] = volume
        # Each suite's results in the order of its checks, whichever part they came from.
        outcomes = [
            SuiteOutcome(s, [r for _, r in sorted(results[s.name], key=lambda x: x[0])]) for s in runnable
        ]
        scope_rows = _scope_rows(outcomes, scopes, facts, volumes)
        seconds = time.perf_counter() - started
        index = docs_dir(settings) / "index.html"
        store.finish_run(
            conn, run_id, [r for o in outcomes for r in o.rows], volumes, seconds, str(index), scope_rows
        )
        if record_holdback and as_of is not None:
            _record_holdback(conn, as_of, outcomes)
    return DqRun(run_id, as_of, outcomes, time.perf_counter() - started, index, skipped, mode, scope_rows)


def _scope_rows(
    outcomes: list[SuiteOutcome],
    scopes: dict[str, scoping.Scope],
    facts: dict[str, scoping.Facts],
    volumes: dict[str, tuple[int, bool]],
) -> list[store.ScopeRow]:
    """What each raw suite checked, and whether it is accepted (the next nightly run's mark)."""
    out = []
    for o in outcomes:
        sc = scopes.get(o.suite.name)
        if sc is None:
            continue  # a mart suite: always whole
        fact = facts.get(o.suite.name)
        checked = fact.new_rows if fact is not None else volumes.get(o.suite.name, (None, False))[0]
        out.append(store.ScopeRow(o.suite.name, sc.mode, sc.after, sc.upto, checked, sc.reason, o.passed))
    return out


def _base_relation(suite: Suite) -> str:
    schema, name = suite.relation.split(".", 1)
    return str(sql.Identifier(schema, name).as_string(None))


def select_suites(names: Sequence[str] | None, layer: str | None) -> list[str] | None:
    """Suite names for a CLI filter: explicit names win; a layer ('raw' / 'marts') selects its suites."""
    if names:
        return list(names)
    if layer:
        return [n for n in suite_names() if n.startswith(layer + ".")]
    return None
