"""One readable line per expectation result: the relation, the column, the count, what was wanted.

These lines are what a person sees in `cww dq run`, in the Dagster check description and in
``dq.expectation_result.message``, so a bad night reads e.g.
``raw.person_address.street: 1,296 of 6,481 live rows are null (20.0 %; at most 2.0 % allowed)``.
"""

from __future__ import annotations

from typing import Any

from data_quality.expectations.spec import Check, Suite


def _n(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _sample(result: dict[str, Any], limit: int = 5) -> str:
    values = result.get("partial_unexpected_list") or []
    if not values:
        return ""
    shown = []
    for v in values:
        text = ", ".join(f"{k}={x}" for k, x in v.items()) if isinstance(v, dict) else str(v)
        if text not in shown:
            shown.append(text)
        if len(shown) == limit:
            break
    return f"; e.g. {' | '.join(shown)}"


def where(suite: Suite, check: Check) -> str:
    col = check.column
    if not col:
        return suite.relation
    return f"{suite.relation}.{col}" if "," not in col else f"{suite.relation} ({col})"


def observed_text(result: dict[str, Any]) -> str:
    if result.get("unexpected_count") is not None:
        return f"{result['unexpected_count']} unexpected of {result.get('element_count')}"
    obs = result.get("observed_value")
    return "" if obs is None else str(obs)


def _allowed(check: Check, pct: str) -> str:
    """'; at most 2.0 % allowed' for a check with a tolerated share ('' without one), prefixed by
    the observed share when given, and how a small night eases it."""
    mostly = check.kwargs.get("mostly", 1)
    if mostly >= 1:
        return ""
    text = f"; {pct}, at most" if pct else "; at most"
    text += f" {100 * (1 - mostly):.1f} % allowed"
    if "slack_rows" in check.context:
        text += (
            f" on a night this small ({100 * (1 - check.context['mostly']):.1f} %"
            f" or {check.context['slack_rows']} rows, whichever is more)"
        )
    return text


def describe(suite: Suite, check: Check, result: dict[str, Any], passed: bool) -> str:
    """The line for one result (passed results get a short 'ok' line)."""
    at = where(suite, check)
    if passed:
        return f"{at}: ok — {check.why}"
    k = check.kwargs
    uc, ec = result.get("unexpected_count"), result.get("element_count")
    pct = f"{100 * uc / ec:.1f} %" if uc is not None and ec else ""
    rows = suite.rows_label  # "rows", or "new rows (landed after batch 12)" in a nightly run
    kind = check.kind
    if check.context.get("volume"):
        obs = result.get("observed_value")
        rng = f"{_n(k.get('min_value', 0))}–{_n(k.get('max_value')) if 'max_value' in k else '∞'}"
        change = ""
        previous = check.context.get("previous_rows")
        if previous and isinstance(obs, int):
            delta = (obs - previous) / previous
            change = f", a {'drop' if delta < 0 else 'rise'} of {abs(delta) * 100:.0f} %"
        return f"{at} (all columns): {_n(obs)} live rows, expected {rng} ({check.why}{change})"
    if check.context.get("duplicates"):
        return (
            f"{at}: {_n(uc)} of {_n(ec)} {rows} duplicate another row on these columns"
            f" ({check.why}{_allowed(check, pct)})"
            f"{_sample(result)}. Fix: if the source imported these rows twice, delete or soft-delete "
            "the repeats there (the next extract lands the change); if they are genuine, make them "
            "differ in the source"
        )
    if kind == "ExpectColumnValuesToNotBeNull":
        return f"{at}: {_n(uc)} of {_n(ec)} {rows} are null ({pct}{_allowed(check, '')})"
    if kind == "ExpectColumnValuesToBeUnique":
        return f"{at}: {_n(uc)} of {_n(ec)} {rows} share their value with another row{_sample(result)}"
    if kind == "ExpectCompoundColumnsToBeUnique":
        what = f"{rows} duplicate another row on these columns ({check.why})"
        return f"{at}: {_n(uc)} of {_n(ec)} {what}{_sample(result)}"
    if kind == "ExpectColumnValuesToBeInSet":
        return (
            f"{at}: {_n(uc)} of {_n(ec)} {rows} have a code outside {sorted(k['value_set'])}{_sample(result)}"
        )
    if kind == "ExpectColumnValuesToBeBetween":
        rng = f"[{k.get('min_value', '-∞')}, {k.get('max_value', '∞')}]"
        return f"{at}: {_n(uc)} of {_n(ec)} {rows} outside {rng} ({check.why}){_sample(result)}"
    if kind == "ExpectColumnPairValuesAToBeGreaterThanB":
        return (
            f"{at}: {_n(uc)} of {_n(ec)} {rows} have {k['column_A']} before {k['column_B']}{_sample(result)}"
        )
    if kind == "ExpectTableColumnsToMatchSet":
        obs = set(result.get("observed_value") or [])
        wanted = set(k["column_set"])
        missing, extra = sorted(wanted - obs), sorted(obs - wanted)
        parts = ([f"missing columns {missing}"] if missing else []) + (
            [f"unexpected columns {extra}"] if extra and k.get("exact_match") else []
        )
        return f"{at}: {'; '.join(parts) or 'columns differ'} ({check.why})"
    if kind == "ExpectColumnMaxToBeBetween":
        newest = result.get("observed_value")
        return f"{at}: newest value {newest}, expected on or after {k.get('min_value')} ({check.why})"
    return f"{at}: {kind} failed, observed {observed_text(result)}"
