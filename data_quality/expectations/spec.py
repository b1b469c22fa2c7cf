"""Suites as plain data: what to expect of one relation, and how bad a failure is.

Kept free of Great Expectations imports so building, listing and testing suites is instant; the
runner turns each ``Check`` into the GX expectation class of the same name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Check:
    """One expectation. ``blocking``: a failure holds back everything downstream of the relation
    (dashboards, reports); otherwise it is a warning that is shown and stored but stops nothing."""

    kind: str  # GX 1.x expectation class name, e.g. "ExpectColumnValuesToNotBeNull"
    kwargs: dict[str, Any]
    blocking: bool
    why: str = ""
    # Facts for the message only (never sent to GX), e.g. {"previous_rows": 10449}.
    context: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    # Which of the suite's queries the check reads: "" = ``Suite.query``, else a key of
    # ``Suite.parts`` (a check that must see more, or less, than the suite's rows).
    part: str = ""
    # The column(s) to name when GX checks a column computed for them (e.g. a business key).
    label: str = ""

    @property
    def column(self) -> str:
        """The column(s) the check is about, for messages and the dq tables ('' = the table)."""
        if self.label:
            return self.label
        k = self.kwargs
        if "column" in k:
            return str(k["column"])
        if "column_list" in k:
            return ", ".join(k["column_list"])
        if "column_A" in k:
            return f"{k['column_A']}, {k['column_B']}"
        return ""


@dataclass(frozen=True)
class Suite:
    """All checks of one relation. ``query`` is what GX validates (e.g. only live raw rows);
    ``relation`` names it in messages; ``asset_key`` is the Dagster asset the suite guards."""

    name: str
    relation: str
    query: str
    asset_key: tuple[str, ...]
    checks: list[Check] = field(default_factory=list)
    # Assets read straight off this relation in the same dbt step (the reporting views): the
    # blocking result is attached to them too, so what reads them (dashboards, reports) waits.
    also_guards: tuple[tuple[str, ...], ...] = ()
    # Further queries of the same suite, by part name (``Check.part``): e.g. the new raw rows
    # joined to the whole table for the duplicated-batch check. One GX validation each.
    parts: dict[str, str] = field(default_factory=dict)
    # What ``query`` holds, in messages: "rows", or e.g. "new rows (landed after batch 12)".
    rows_label: str = "rows"

    @property
    def blocking(self) -> list[Check]:
        return [c for c in self.checks if c.blocking]

    def part_query(self, part: str) -> str:
        return self.parts[part] if part else self.query

    @property
    def part_names(self) -> list[str]:
        """The parts the checks read, main query first (each is one GX asset and validation)."""
        names: list[str] = []
        for c in self.checks:
            if c.part not in names:
                names.append(c.part)
        return sorted(names, key=lambda p: p != "")


def suite_asset_name(suite_name: str, part: str = "") -> str:
    """A GX-safe identifier for a suite, or one part of it (asset / validation names)."""
    return suite_name.replace(".", "__") + (f"__{part}" if part else "")


def gx_suite_name(suite_name: str, part: str = "") -> str:
    """The GX expectation-suite name of one part of a suite ("raw.payment", "raw.payment.duplicates")."""
    return f"{suite_name}.{part}" if part else suite_name
