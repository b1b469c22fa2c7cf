"""What the raw layer must look like, read from the contracts rather than restated.

Columns come from simulator/schema.sql (THE source contract) plus extract's load metadata
columns; keys and soft-delete columns from the extract registry. A column renamed or dropped in
either place therefore changes the suites in the same commit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from psycopg import sql

from cww.settings import PROJECT_ROOT

SCHEMA_SQL = PROJECT_ROOT / "simulator" / "schema.sql"
LOAD_COLUMNS = ("_batch_id", "_extracted_at", "_source_updated_at", "_deleted")

_CREATE = re.compile(r'create table cpin\.("?)(\w+)\1\s*\((.*?)\n\);', re.S | re.I)
_NOT_COLUMNS = ("primary key", "constraint", "unique", "foreign key", "check")


@dataclass(frozen=True)
class RawTable:
    name: str
    columns: tuple[str, ...]  # source columns, in schema.sql order (load columns not included)
    key: tuple[str, ...]
    soft_delete_column: str | None

    @property
    def relation(self) -> str:
        return f"raw.{self.name}"

    @property
    def has_updated_at(self) -> bool:
        return "updated_at" in self.columns

    def live(self, alias: str = "r") -> sql.Composable:
        """The row is live: not hard-deleted at the source (``_deleted``) nor soft-deleted."""
        cond = sql.SQL("not {}").format(sql.Identifier(alias, "_deleted"))
        if self.soft_delete_column:
            cond = sql.SQL("{} and not coalesce({}, false)").format(
                cond, sql.Identifier(alias, self.soft_delete_column)
            )
        return cond


def source_columns(schema_sql: str) -> dict[str, tuple[str, ...]]:
    """``cpin`` table → column names, from the CREATE TABLE statements of schema.sql."""
    tables: dict[str, tuple[str, ...]] = {}
    for _quote, name, body in _CREATE.findall(schema_sql):
        cols = []
        for line in body.splitlines():
            text = line.split("--", 1)[0].strip()
            if not text or text.lower().startswith(_NOT_COLUMNS):
                continue
            cols.append(text.split()[0].strip('"'))
        tables[name] = tuple(cols)
    return tables


@lru_cache(maxsize=1)
def raw_tables() -> tuple[RawTable, ...]:
    """Every table extract lands, with its contract columns and key (registry order)."""
    from extract.registry import load_registry

    columns = source_columns(SCHEMA_SQL.read_text())
    out = []
    for t in load_registry().tables:
        if t.name not in columns:
            continue  # a registry table outside schema.sql has no contract to check against
        out.append(RawTable(t.name, columns[t.name], tuple(t.key), t.soft_delete_column))
    return tuple(out)
