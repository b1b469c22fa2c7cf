"""Schema drift between a source table and its raw copy: what can follow, what must stop.

Rules (the issue's contract): a new source column is added to raw (nullable); a type change that
can be widened without losing values is applied to raw; anything else — a narrowing or unrelated
type change, a dropped key or watermark column — stops *that* table with a message that names the
table, the column and the fix, while the other tables still load. A dropped non-key column is kept
in raw (history stays readable) and reported as a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cww.errors import CwwError
from extract.catalog import META_COLUMNS, Column
from extract.registry import TableSpec

_INT_RANK = {"smallint": 1, "integer": 2, "bigint": 3}
_INT_DIGITS = {"smallint": 5, "integer": 10, "bigint": 19}
_NUMERIC = re.compile(r"^numeric(?:\((\d+),(\d+)\))?$")
_VARCHAR = re.compile(r"^(character varying|character)(?:\((\d+)\))?$")


class DriftError(CwwError):
    """A source change raw cannot follow on its own; the table is skipped this run."""


@dataclass
class DriftPlan:
    """What to do to raw before loading: statements as (verb, column, type) and warnings."""

    add: list[Column] = field(default_factory=list)
    widen: list[tuple[str, str, str]] = field(default_factory=list)  # column, old, new
    warnings: list[str] = field(default_factory=list)


def can_widen(old: str, new: str) -> bool:
    """True when every value of type ``old`` is representable, unchanged, in ``new``."""
    if old == new:
        return True
    if old in _INT_RANK and new in _INT_RANK:
        return _INT_RANK[new] >= _INT_RANK[old]
    n_new = _NUMERIC.match(new)
    if old in _INT_RANK and n_new:
        return n_new.group(1) is None or int(n_new.group(1)) - int(n_new.group(2)) >= _INT_DIGITS[old]
    n_old = _NUMERIC.match(old)
    if n_old and n_new:
        if n_new.group(1) is None:
            return True
        if n_old.group(1) is None:
            return False
        p1, s1, p2, s2 = (int(x) for x in (*n_old.groups(), *n_new.groups()))
        return s2 >= s1 and p2 - s2 >= p1 - s1
    if old == "real" and new == "double precision":
        return True
    v_old, v_new = _VARCHAR.match(old), _VARCHAR.match(new)
    if v_old and new == "text":
        return True
    if v_old and v_new and v_new.group(1) == "character varying":
        return v_new.group(2) is None or (
            v_old.group(2) is not None and int(v_new.group(2)) >= int(v_old.group(2))
        )
    return False


def plan_drift(spec: TableSpec, source: list[Column], raw: list[Column]) -> DriftPlan:
    """Compare shapes; raise DriftError for changes that must stop the table."""
    src = {c.name: c for c in source}
    have = {c.name: c for c in raw if c.name not in META_COLUMNS}
    fix_full = f"then run `cww extract --tables {spec.name} --full-refresh`"
    for k in spec.key:
        if k not in src:
            raise DriftError(
                f"table {spec.name}: key column {k!r} no longer exists at the source, so rows can no "
                f"longer be matched to raw.{spec.name}. Fix: update the key of {spec.name} in the "
                f"extract registry (extract/registry/*.yml), {fix_full}."
            )
    if spec.watermark_column and spec.watermark_column not in src:
        raise DriftError(
            f"table {spec.name}: watermark column {spec.watermark_column!r} no longer exists at the "
            f"source. Fix: set change_tracking for {spec.name} in the registry (another column, or "
            f"mode: snapshot), {fix_full}."
        )
    plan = DriftPlan()
    for c in source:
        old = have.get(c.name)
        if old is None:
            plan.add.append(c)
        elif old.type != c.type and not can_widen(c.type, old.type):  # raw not already wide enough
            if not can_widen(old.type, c.type):
                raise DriftError(
                    f"table {spec.name}: column {c.name!r} changed type at the source from {old.type} "
                    f"to {c.type}, which raw.{spec.name} cannot hold without losing or reinterpreting "
                    f"values. Fix: decide the conversion and apply it to the warehouse "
                    f'(`alter table raw."{spec.name}" alter column "{c.name}" type {c.type} using …`), '
                    f"{fix_full}."
                )
            plan.widen.append((c.name, old.type, c.type))
    for name in have:
        if name not in src:
            plan.warnings.append(
                f"column {name!r} was dropped at the source; "
                f"raw.{spec.name} keeps it but no longer updates it"
            )
    return plan
