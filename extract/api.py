"""The extraction library's entry points, called alike by the CLI, Dagster and tests.

``run_extract`` lands registry tables in ``raw``; ``reconcile`` proves raw matches the source.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Protocol

import psycopg
import sqlalchemy as sa

from cww.errors import CwwError
from cww.postgres import resolve_server
from cww.settings import Settings
from extract.connect import (
    SourceUnavailableError,
    WarehouseUnavailableError,
    connect_source,
    connect_warehouse,
)
from extract.faults import checkpoint
from extract.generic_source import SqlAlchemySource
from extract.load import TableLoader
from extract.meta import (
    acquire_lock,
    ensure_meta,
    finish_batch,
    record_table_error,
    release_lock,
    start_batch,
)
from extract.options import ExtractOptions
from extract.pg_source import PgSource
from extract.reconcile import ReconcileReport, reconcile_tables
from extract.registry import Registry, load_registry
from extract.summary import ExtractSummary, TableResult


class ProgressSink(Protocol):
    """Receives per-table progress (the CLI draws it with Rich; Dagster logs it)."""

    def table_started(self, table: str) -> None: ...
    def table_progress(self, table: str, rows: int, nbytes: int) -> None: ...
    def table_done(self, result: TableResult) -> None: ...


def _registry(registry: Registry | Path | str | None) -> Registry:
    return registry if isinstance(registry, Registry) else load_registry(registry)


def _generic_engine(url: str) -> sa.Engine:
    """An engine for a generic source, checked once so an unreachable source fails up front."""
    engine = sa.create_engine(url)
    try:
        with engine.connect():
            pass
    except sa.exc.SQLAlchemyError as exc:
        shown = sa.engine.make_url(url).render_as_string(hide_password=True)
        raise SourceUnavailableError(
            f"cannot open the source {shown}: {_one_line(exc.orig or exc)}. Nothing was loaded and no "
            "watermark moved. Fix: correct CWW_EXTRACT_SOURCE_URL or start that database."
        ) from exc
    return engine


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return " ".join(text.split()) if text else type(exc).__name__


def run_extract(
    settings: Settings,
    tables: list[str] | None = None,
    full_refresh: bool = False,
    *,
    registry: Registry | Path | str | None = None,
    options: ExtractOptions | None = None,
    progress: ProgressSink | None = None,
) -> ExtractSummary:
    """Extract the given registry tables (default: all) into ``raw``; one transaction per table.

    A table that fails (schema drift it cannot follow, a broken rule definition …) is reported in
    the summary and in ``extract_meta.table_errors`` while the other tables still load. An
    unreachable source stops the whole run with ``SourceUnavailableError`` before anything changes.
    """
    options = options or ExtractOptions()
    reg = _registry(registry)
    specs = reg.select(tables)
    schema = reg.source_schema or settings.source_schema
    started = time.perf_counter()
    server = resolve_server(settings)
    wh = connect_warehouse(settings, server)
    src_conn: psycopg.Connection | None = None
    try:
        wh.execute("set application_name = 'cww extract'")
        ensure_meta(wh)
        acquire_lock(wh, options.lock_wait_seconds, settings.warehouse_db)
        checkpoint("after_lock", options)
        source: PgSource | SqlAlchemySource
        if options.source_url:
            source = SqlAlchemySource(_generic_engine(options.source_url), reg.source_schema, options)
        else:
            src_conn = connect_source(settings, server, options)
            source = PgSource(src_conn, schema, options)
        batch_id = start_batch(wh, [s.name for s in specs], full_refresh)
        results: list[TableResult] = []
        for spec in specs:
            if progress:
                progress.table_started(spec.name)
            cb = (lambda r, b, _t=spec.name: progress.table_progress(_t, r, b)) if progress else None
            loader = TableLoader(source, wh, spec, batch_id, full_refresh, options, cb)
            try:
                result = loader.run()
            except psycopg.OperationalError as exc:
                if src_conn is not None and src_conn.broken:
                    finish_batch(wh, batch_id, "failed", f"source lost during {spec.name}: {_one_line(exc)}")
                    raise SourceUnavailableError(
                        f"lost the source connection while extracting {spec.name}: {_one_line(exc)}. "
                        f"Tables before it are committed; {spec.name} and later ones were not changed. "
                        "Fix: check the source server, then re-run (it resumes from the watermarks)."
                    ) from exc
                if wh.broken:
                    raise WarehouseUnavailableError(
                        f"lost the warehouse connection while loading {spec.name}: {_one_line(exc)}. "
                        "Fix: check the warehouse server, then re-run."
                    ) from exc
                result = TableResult(table=spec.name, status="failed", error=_one_line(exc))
            except (CwwError, psycopg.Error) as exc:
                result = TableResult(table=spec.name, status="failed", error=_one_line(exc))
            if result.status != "ok":
                record_table_error(wh, batch_id, spec.name, result.error or "")
            results.append(result)
            if progress:
                progress.table_done(result)
            checkpoint("after_commit", options)
        failed = [r.table for r in results if r.status != "ok"]
        status = "succeeded" if not failed else ("failed" if len(failed) == len(results) else "partial")
        finish_batch(wh, batch_id, status, f"failed tables: {', '.join(failed)}" if failed else None)
        return ExtractSummary(batch_id=batch_id, tables=results, seconds=time.perf_counter() - started)
    finally:
        if src_conn is not None:
            src_conn.close()
        if not wh.broken and not wh.closed:
            with contextlib.suppress(psycopg.Error):
                release_lock(wh)
        wh.close()


def reconcile(
    settings: Settings,
    tables: list[str] | None = None,
    *,
    registry: Registry | Path | str | None = None,
    options: ExtractOptions | None = None,
) -> ReconcileReport:
    """Compare source and raw per table: row counts, key sets and a checksum of every column.

    Soft-deleted rows count as present on both sides; rows flagged ``_deleted`` in raw count as
    absent. Source rows held in ``extract_meta.rejected_rows`` are reported as rejected, not as
    differences (they are accounted for, with a reason).
    """
    options = options or ExtractOptions()
    if options.source_url:
        raise CwwError(
            "reconcile compares checksums inside PostgreSQL and does not support a generic "
            "(CWW_EXTRACT_SOURCE_URL) source yet. Fix: compare counts with the source's own tools."
        )
    reg = _registry(registry)
    specs = reg.select(tables)
    server = resolve_server(settings)
    wh = connect_warehouse(settings, server)
    ensure_meta(wh)
    src = connect_source(settings, server, options)
    try:
        return reconcile_tables(src, wh, reg.source_schema or settings.source_schema, specs, options)
    finally:
        src.close()
        wh.close()
