"""Producing a report's CSV under the right database login, streamed with bounded memory.

Security lives in PostgreSQL: a per-agency file is read by connecting AS that agency's login role
(``cww.security.agency_role``), so the reporting views' row-level security decides which children
it may see. There is no WHERE agency = … here on purpose, and the producer refuses to run a
per-agency report under a role that is superuser or bypasses RLS.

Rows come through a server-side cursor in batches and are written as they arrive, so memory does
not grow with the report. Files land in a content-addressed outbox
(``$CWW_HOME/reports/outbox/<report>/<period>/<agency>/<sha256 prefix>/<file>``): a retry days
later re-sends exactly the bytes the delivery log recorded, not a re-query of changed data.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from cww.errors import CwwError
from cww.postgres import Server
from cww.security import agency_role, analyst_role, role_password
from cww.settings import Settings
from reports.spec import PROVINCIAL, CsvOptions, ReportDefinition
from reports.windows import Window

BATCH_ROWS = 5000
BOM = b"\xef\xbb\xbf"


class ProduceError(CwwError):
    """The report could not be read from the warehouse (login, permission, missing view …)."""


@dataclass(frozen=True)
class Produced:
    """A finished CSV file and the facts the delivery log keeps about it."""

    path: Path
    file_name: str
    checksum: str
    rows: int
    size: int


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_name_for(definition: ReportDefinition, agency: str, window: Window) -> str:
    return definition.file_name.format(report=definition.name, agency=agency, period=window.period)


def outbox_dir(settings: Settings, report: str, window: Window, agency: str) -> Path:
    return settings.home / "reports" / "outbox" / report / window.period / agency


def outbox_path(
    settings: Settings, report: str, window: Window, agency: str, checksum: str, name: str
) -> Path:
    return outbox_dir(settings, report, window, agency) / checksum[:16] / name


def login_for(settings: Settings, definition: ReportDefinition, agency: str) -> tuple[str | None, str | None]:
    """(user, password) to read this file with; (None, None) means the pipeline's own login."""
    if agency != PROVINCIAL:
        role = agency_role(agency, settings.role_prefix)
        return role, role_password(role)
    if definition.provincial_role == "analyst":
        role = analyst_role(settings.role_prefix)
        return role, role_password(role)
    return None, None


def build_query(definition: ReportDefinition) -> sql.Composed:
    """SELECT the listed columns, in order, from the view (or the SQL), filtered to the window."""
    cols = sql.SQL(", ").join(sql.Identifier(c.column) for c in definition.columns)
    if definition.view:
        schema, name = definition.view.split(".", 1)
        source: sql.Composable = sql.Identifier(schema, name)
    else:
        assert definition.sql is not None
        source = sql.SQL("({}) as report_source").format(sql.SQL(definition.sql.strip().rstrip(";")))
    query = sql.SQL("select {} from {}").format(cols, source)
    if definition.date_column:
        query += sql.SQL(" where {col} >= %(period_start)s and {col} < %(period_end)s").format(
            col=sql.Identifier(definition.date_column)
        )
    if definition.sort:
        query += sql.SQL(" order by ") + sql.SQL(", ").join(
            sql.Identifier(s.column) + sql.SQL(" desc" if s.descending else " asc nulls last")
            for s in definition.sort
        )
    return query


def _text(value: Any, options: CsvOptions) -> str:
    """Spreadsheet-friendly text: ISO dates, plain decimals, yes/no, empty for NULL."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return options.true_text if value else options.false_text
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, list | tuple):
        return "; ".join(_text(v, options) for v in value)
    return str(value)


def _writer(fh: Any, options: CsvOptions) -> Any:
    return csv.writer(
        fh,
        delimiter=options.delimiter,
        lineterminator="\r\n" if options.line_ending == "crlf" else "\n",
        quoting=csv.QUOTE_MINIMAL,
    )


def _finish(
    tmp: Path,
    settings: Settings,
    definition: ReportDefinition,
    window: Window,
    agency: str,
    name: str,
    rows: int,
) -> Produced:
    """Move a written temp file to its content address in the outbox."""
    checksum = sha256_file(tmp)
    final = outbox_path(settings, definition.name, window, agency, checksum, name)
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, final)
    return Produced(final, name, checksum, rows, final.stat().st_size)


def produce(
    settings: Settings,
    server: Server,
    definition: ReportDefinition,
    agency: str,
    window: Window,
    options: CsvOptions | None = None,
) -> Produced:
    """Query the warehouse as the agency's login and stream the CSV into the outbox."""
    options = options or definition.csv
    user, password = login_for(settings, definition, agency)
    name = file_name_for(definition, agency, window)
    work = outbox_dir(settings, definition.name, window, agency)
    work.mkdir(parents=True, exist_ok=True)
    tmp = work / f".{uuid.uuid4().hex}.tmp"
    params = {"period_start": window.start, "period_end": window.end, "agency": agency}
    try:
        conn = psycopg.connect(server.conninfo(settings.warehouse_db, user=user, password=password))
    except psycopg.OperationalError as exc:
        raise ProduceError(
            f"report {definition.name}: cannot log in to {settings.warehouse_db} as {user or 'the pipeline'} "
            f"for {agency}: {str(exc).strip().splitlines()[-1]}. Fix: run dbt (it creates the agency logins) "
            "and check CWW_ROLE_SECRET matches the one dbt used."
        ) from exc
    rows = 0
    try:
        with conn:
            conn.execute("set timezone = 'America/Toronto'")
            if user is not None:
                flags = conn.execute(
                    "select rolsuper or rolbypassrls from pg_roles where rolname = current_user"
                ).fetchone()
                if flags and flags[0]:
                    raise ProduceError(
                        f"role {user} is superuser or BYPASSRLS: refusing to produce {agency}'s "
                        f"{definition.name} under it. Fix: make it a plain login role."
                    )
            with tmp.open("w", encoding="utf-8", newline="") as fh:
                if options.bom:
                    fh.write("\ufeff")
                out = _writer(fh, options)
                out.writerow([c.heading for c in definition.columns])
                with conn.cursor(name=f"report_{uuid.uuid4().hex[:12]}") as cur:
                    cur.itersize = BATCH_ROWS
                    cur.execute(build_query(definition), params)
                    while batch := cur.fetchmany(BATCH_ROWS):
                        out.writerows([_text(v, options) for v in row] for row in batch)
                        rows += len(batch)
    except psycopg.Error as exc:
        tmp.unlink(missing_ok=True)
        raise ProduceError(
            f"report {definition.name} for {agency} ({definition.view or 'sql'}) as "
            f"{user or 'the pipeline'}: {str(exc).strip().splitlines()[0]}"
        ) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        conn.close()
    return _finish(tmp, settings, definition, window, agency, name, rows)


def variant(
    settings: Settings,
    definition: ReportDefinition,
    window: Window,
    agency: str,
    base: Produced,
    base_options: CsvOptions,
    bom: bool,
    line_ending: str,
) -> Produced:
    """The same rows with another BOM / line ending (a destination's override), without re-querying."""
    if bom == base_options.bom and line_ending == base_options.line_ending:
        return base
    options = base_options.model_copy(update={"bom": bom, "line_ending": line_ending})
    fd, tmp_name = tempfile.mkstemp(dir=base.path.parent.parent, suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    with (
        base.path.open("r", encoding="utf-8-sig", newline="") as src,
        tmp.open("w", encoding="utf-8", newline="") as dst,
    ):
        if bom:
            dst.write("\ufeff")
        out = _writer(dst, options)
        for record in csv.reader(src, delimiter=base_options.delimiter):
            out.writerow(record)
    return _finish(tmp, settings, definition, window, agency, base.file_name, base.rows)


def reuse(
    settings: Settings,
    definition: ReportDefinition,
    window: Window,
    agency: str,
    checksum: str | None,
    name: str,
    rows: int | None,
) -> Produced | None:
    """The outbox file a previous attempt recorded, if it is still there and intact."""
    if not checksum:
        return None
    path = outbox_path(settings, definition.name, window, agency, checksum, name)
    if not path.exists() or sha256_file(path) != checksum:
        return None
    return Produced(path, name, checksum, int(rows or 0), path.stat().st_size)


def clear_outbox(settings: Settings, report: str) -> None:
    shutil.rmtree(settings.home / "reports" / "outbox" / report, ignore_errors=True)
