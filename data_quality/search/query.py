"""Call ``reporting.search_person`` from Python and print its answer as a Rich table.

The search itself lives in PostgreSQL (so psql, Superset and any client get the same answer);
this module is the thin client `cww search` and the tests use. With ``agency=...`` it logs in as
that agency's own login role (cww.security), so what it prints is exactly what that agency's
workers may see: full history at their agency, dates and agency names elsewhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import psycopg
from rich.table import Table

from cww.errors import CwwError
from cww.postgres import Server, resolve_server
from cww.security import agency_role, role_password
from cww.settings import Settings

COLUMNS = (
    "rank",
    "master_person_id",
    "score",
    "given_name",
    "middle_name",
    "surname",
    "birth_date",
    "city",
    "postal_code",
    "known_to",
    "records",
    "detail_visible",
    "history",
)


@dataclass
class SearchHit:
    """One master person in the answer (names are None when no record is readable by the caller)."""

    rank: int
    master_person_id: int
    score: float
    given_name: str | None
    middle_name: str | None
    surname: str | None
    birth_date: date | None
    city: str | None
    postal_code: str | None
    known_to: str | None
    records: int
    detail_visible: bool
    history: list[dict[str, Any]] = field(default_factory=list)

    def display_name(self) -> str:
        if not self.detail_visible:
            return "(known to another agency)"
        names = " ".join(n for n in (self.given_name, self.middle_name) if n)
        return f"{self.surname or '?'}, {names}" if names else (self.surname or "?")


def conninfo(settings: Settings, agency: str | None = None, server: Server | None = None) -> str:
    """The warehouse as the data team (settings' login) or as an agency's own login role."""
    server = server or resolve_server(settings)
    if agency is None:
        return server.conninfo(settings.warehouse_db)
    role = agency_role(agency, settings.role_prefix)
    return server.conninfo(settings.warehouse_db, user=role, password=role_password(role))


def run_search(conn: psycopg.Connection, query: str, max_results: int = 10) -> list[SearchHit]:
    """``select * from reporting.search_person(query, max_results)`` on an open connection."""
    try:
        rows = conn.execute("select * from reporting.search_person(%s, %s)", (query, max_results)).fetchall()
    except psycopg.errors.UndefinedFunction as exc:
        raise CwwError(
            "reporting.search_person is not installed in this warehouse. "
            "Fix: run `cww search --refresh` (after `cww dedupe run` and `cww dbt build`)."
        ) from exc
    except psycopg.errors.UndefinedTable as exc:
        raise CwwError(
            f"person search tables are missing ({exc.diag.message_primary}). Fix: run `cww search --refresh`."
        ) from exc
    except psycopg.errors.InsufficientPrivilege as exc:
        raise CwwError(f"person search refused: {exc.diag.message_primary}") from exc
    hits = []
    for row in rows:
        values = dict(zip(COLUMNS, row, strict=True))
        history = values.pop("history")
        hits.append(
            SearchHit(**values, history=history if isinstance(history, list) else json.loads(history))
        )
    return hits


def search_persons(
    settings: Settings, query: str, max_results: int = 10, agency: str | None = None
) -> list[SearchHit]:
    """Search the settings' warehouse, as the data team or (``agency``) as that agency's login."""
    try:
        with psycopg.connect(conninfo(settings, agency)) as conn:
            return run_search(conn, query, max_results)
    except psycopg.OperationalError as exc:
        who = f"agency {agency}'s login" if agency else "the data team's login"
        raise CwwError(
            f"cannot connect to warehouse {settings.warehouse_db} as {who}: {str(exc).strip()}. "
            "Fix: check the agency code (reporting.agency_roles) and that `cww dbt build` set the passwords."
        ) from exc


def _period(item: dict[str, Any]) -> str:
    return f"{item.get('start') or '?'} → {item.get('end') or 'open'}"


def history_lines(hit: SearchHit, limit: int = 8) -> list[str]:
    """One line per history item: full detail where readable, agency and dates elsewhere."""
    lines = []
    for item in hit.history[:limit]:
        if "kind" in item:
            detail = item.get("detail") or ""
            extra = f" ({detail})" if detail and len(detail) <= 40 else ""
            role = f" as {item['role'].lower()}" if item.get("role") and item["role"] != "Child" else ""
            kind = f"{item['kind']}{role}"
            lines.append(f"{item['agency']} {kind}: {item.get('type') or '?'} {_period(item)}{extra}")
        else:
            lines.append(f"{item['agency']}: involved {_period(item)}")
    if len(hit.history) > limit:
        lines.append(f"… {len(hit.history) - limit} more")
    return lines


def hits_table(query: str, hits: list[SearchHit]) -> Table:
    """The ranked answer as a Rich table (what `cww search` prints)."""
    table = Table(title=f"Person search: {query!r}", show_lines=True)
    for col, kw in (
        ("#", {"justify": "right"}),
        ("score", {"justify": "right"}),
        ("name", {}),
        ("born", {}),
        ("city", {}),
        ("known to", {}),
        ("records", {"justify": "right"}),
        ("history", {}),
    ):
        table.add_column(col, **kw)
    for hit in hits:
        table.add_row(
            str(hit.rank),
            f"{hit.score:.3f}",
            hit.display_name(),
            str(hit.birth_date or ""),
            hit.city or "",
            hit.known_to or "",
            str(hit.records),
            "\n".join(history_lines(hit)) or "-",
        )
    return table
