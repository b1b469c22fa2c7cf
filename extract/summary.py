"""What a run did, per table, in a shape the CLI, Dagster metadata and tests all read."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class TableResult:
    """Outcome of one table in one run. ``deleted`` = hard deletes found this run."""

    table: str
    status: str = "ok"  # ok | failed
    path: str = ""  # copy-direct | copy-merge | generic
    mode: str = ""  # watermark | snapshot | full-refresh | initial
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    soft_deleted: int = 0
    deleted: int = 0
    rejected: int = 0
    bytes: int = 0
    seconds: float = 0.0
    key_check: bool = False
    watermark_from: dt.datetime | None = None
    watermark_to: dt.datetime | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def mb(self) -> float:
        return self.bytes / 1_000_000

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["mb"] = round(self.mb, 3)
        return d


@dataclass
class ExtractSummary:
    """A whole run: its batch id and one result per table (failed tables included)."""

    batch_id: int
    tables: list[TableResult]
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(t.status == "ok" for t in self.tables)

    @property
    def failed(self) -> list[TableResult]:
        return [t for t in self.tables if t.status != "ok"]

    def totals(self) -> dict[str, float]:
        keys = ("rows_read", "inserted", "updated", "soft_deleted", "deleted", "rejected", "bytes")
        out: dict[str, float] = {k: sum(getattr(t, k) for t in self.tables) for k in keys}
        out["mb"] = out["bytes"] / 1_000_000
        out["seconds"] = self.seconds
        return out

    def table(self, name: str) -> TableResult:
        return next(t for t in self.tables if t.table == name)
