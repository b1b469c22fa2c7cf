"""The declarative table registry: what to extract from a source and how.

A registry is YAML kept in git (``extract/registry/cpin.yml``) so that adding a table, changing
its look-back window or its hard-delete cadence is a reviewed one-line change, not code. Every
entry is validated when loaded, and errors name the file, the table and the fix.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cww.errors import CwwError

REGISTRY_DIR = Path(__file__).resolve().parent / "registry"
DEFAULT_REGISTRY = REGISTRY_DIR / "cpin.yml"

_DURATION = re.compile(r"^\s*(\d+)\s*(second|minute|hour|day|week)s?\s*$")


class RegistryError(CwwError):
    """The registry file is malformed; the message names the file, table and key."""


def parse_duration(text: str | int, where: str) -> dt.timedelta:
    """``"3 days"``, ``"12 hours"``, ``"1 week"`` → timedelta (an int means days)."""
    if isinstance(text, int):
        return dt.timedelta(days=text)
    m = _DURATION.match(str(text))
    if not m:
        raise RegistryError(f"{where}: cannot read duration {text!r}. Fix: write e.g. '3 days' or '1 week'.")
    n, unit = int(m.group(1)), m.group(2)
    return dt.timedelta(**{unit + "s": n})


@dataclass(frozen=True)
class RejectRule:
    """One declared rule; rows breaking it go to ``extract_meta.rejected_rows`` with ``reason``.

    kinds: ``not_null`` (columns), ``date_range`` (column, min, max: ISO dates, nulls pass),
    ``not_before`` (column must not be earlier than ``other``; nulls pass),
    ``matches`` (text column must match ``regex``; nulls pass).
    """

    kind: str
    columns: tuple[str, ...] = ()
    min: str | None = None
    max: str | None = None
    other: str | None = None
    regex: str | None = None

    def describe(self) -> str:
        if self.kind == "not_null":
            return f"null in {', '.join(self.columns)}"
        if self.kind == "date_range":
            return f"{self.columns[0]} outside [{self.min}, {self.max}]"
        if self.kind == "not_before":
            return f"{self.columns[0]} before {self.other}"
        return f"{self.columns[0]} does not match {self.regex}"


@dataclass(frozen=True)
class TableSpec:
    """How one source table is extracted."""

    name: str
    key: tuple[str, ...]
    mode: str  # "watermark" | "snapshot"
    watermark_column: str | None
    lookback: dt.timedelta
    soft_delete_column: str | None
    # Hard deletes are found by comparing key sets; None = never (only on --full-refresh).
    hard_delete_every: dt.timedelta | None
    rejects: tuple[RejectRule, ...] = field(default_factory=tuple)

    @property
    def all_rules(self) -> tuple[RejectRule, ...]:
        """Declared rules plus the implicit one: key columns are never null."""
        return (RejectRule("not_null", self.key), *self.rejects)


@dataclass(frozen=True)
class Registry:
    """All tables of one source schema, in load order."""

    source_schema: str | None
    tables: tuple[TableSpec, ...]
    path: Path | None = None

    def table(self, name: str) -> TableSpec:
        for t in self.tables:
            if t.name == name:
                return t
        known = ", ".join(t.name for t in self.tables)
        raise RegistryError(f"no table {name!r} in the registry {self.path}. Known tables: {known}.")

    def select(self, names: list[str] | None) -> list[TableSpec]:
        return list(self.tables) if not names else [self.table(n) for n in names]


def _rule(raw: dict[str, Any], where: str) -> RejectRule:
    kind = raw.get("rule")
    if kind == "not_null":
        cols = raw.get("columns") or ([raw["column"]] if "column" in raw else [])
        if not cols:
            raise RegistryError(f"{where}: not_null needs `columns`.")
        return RejectRule("not_null", tuple(cols))
    if kind == "date_range":
        lo, hi = raw.get("min"), raw.get("max")
        for v in (lo, hi):
            if v is not None:
                try:
                    dt.date.fromisoformat(str(v))
                except ValueError as exc:
                    raise RegistryError(f"{where}: {v!r} is not an ISO date (YYYY-MM-DD).") from exc
        return RejectRule(
            "date_range",
            (raw["column"],),
            min=str(lo) if lo is not None else None,
            max=str(hi) if hi is not None else None,
        )
    if kind == "not_before":
        return RejectRule("not_before", (raw["column"],), other=raw["other"])
    if kind == "matches":
        re.compile(raw["regex"])
        return RejectRule("matches", (raw["column"],), regex=raw["regex"])
    raise RegistryError(
        f"{where}: unknown reject rule {kind!r}. Fix: use not_null, date_range, not_before or matches."
    )


def _merge(defaults: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    out = dict(defaults)
    for k, v in entry.items():
        if k == "rejects":
            out["rejects"] = list(defaults.get("rejects", [])) + list(v or [])
        else:
            out[k] = v
    return out


def _table(name: str, raw: dict[str, Any], where: str) -> TableSpec:
    key = raw.get("key")
    if not key:
        raise RegistryError(f"{where}: table {name} has no `key`. Fix: list its primary-key column(s).")
    tracking = raw.get("change_tracking") or {"mode": "watermark", "column": "updated_at"}
    mode = tracking.get("mode", "watermark")
    if mode not in ("watermark", "snapshot"):
        raise RegistryError(f"{where}: table {name}: change_tracking.mode must be watermark or snapshot.")
    column = tracking.get("column", "updated_at") if mode == "watermark" else None
    lookback = parse_duration(tracking.get("lookback", "0 days"), f"{where}: {name}.lookback")
    hd = raw.get("hard_deletes", {"every": "run"})
    every = (hd or {}).get("every", "never")
    if every == "run":
        hard_every: dt.timedelta | None = dt.timedelta(0)
    elif every in (None, "never"):
        hard_every = None
    else:
        hard_every = parse_duration(every, f"{where}: {name}.hard_deletes.every")
    rules = tuple(_rule(r, f"{where}: {name}.rejects") for r in raw.get("rejects") or [])
    return TableSpec(
        name=name,
        key=tuple(key),
        mode=mode,
        watermark_column=column,
        lookback=lookback,
        soft_delete_column=raw.get("soft_delete_column"),
        hard_delete_every=hard_every,
        rejects=rules,
    )


def load_registry(path: Path | str | None = None) -> Registry:
    """Read and validate a registry file (default: the cpin registry)."""
    p = Path(path) if path else DEFAULT_REGISTRY
    try:
        doc = yaml.safe_load(p.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise RegistryError(f"cannot read registry {p}: {exc}") from exc
    defaults = doc.get("defaults") or {}
    tables = []
    for name, entry in (doc.get("tables") or {}).items():
        tables.append(_table(name, _merge(defaults, entry or {}), str(p)))
    if not tables:
        raise RegistryError(f"registry {p} lists no tables.")
    return Registry(source_schema=doc.get("source_schema"), tables=tuple(tables), path=p)
