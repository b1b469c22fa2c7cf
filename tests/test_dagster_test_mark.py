"""The nightly data-test mark through Dagster: which batch a build split into steps may record.
The real nightly job recording it — and a partial or failed run not — is checked on the nights of
tests/test_dagster_night_zero.py (one module, so night 0 and the next night run once).

Why it matters: Dagster splits the dbt op into several steps around the person matcher, each a
subset, and the op used to record the mark (private.incremental_marks ``_nightly_data_tests``) only
when not a subset — so no Dagster night ever recorded it, and every night re-tested every row.
"""

from __future__ import annotations

from typing import Any

from cww.transform import batch_tested_by_build


def _scope(
    after: int, upto: int | None, excluded: tuple[str, ...] = (), landed: bool = True
) -> dict[str, Any]:
    return {
        "test_rows_after_batch": after,
        "test_rows_updated_after": None,
        "upto_batch": upto,
        "reads_landed_rows": landed,
        "excluded": list(excluded),
    }


def test_batch_tested_by_build_needs_every_node_and_one_mark() -> None:
    nodes = ["a", "b", "c"]
    assert batch_tested_by_build(nodes, {"a": _scope(3, 7), "b": _scope(3, 8), "c": _scope(3, 7)}) == 7
    # seeds run before the night's extract: their stale upto does not hold the mark back
    seeds = _scope(3, 5, landed=False)
    assert batch_tested_by_build(nodes, {"a": seeds, "b": _scope(3, 8), "c": _scope(3, 8)}) == 8
    assert batch_tested_by_build(nodes, {n: seeds for n in nodes}) is None
    assert batch_tested_by_build(nodes, {"a": _scope(3, 7), "b": _scope(3, 7)}) is None  # c not built
    assert batch_tested_by_build(nodes, {"a": _scope(3, 7), "b": _scope(3, 7), "c": None}) is None
    assert batch_tested_by_build(nodes, {"a": _scope(3, 7), "b": _scope(4, 7), "c": _scope(3, 7)}) is None
    excluded = _scope(3, 7, ("source:cpin.person+",))
    assert batch_tested_by_build(nodes, {"a": _scope(3, 7), "b": excluded, "c": _scope(3, 7)}) is None
    assert batch_tested_by_build(nodes, {n: _scope(0, None) for n in nodes}) is None  # nothing landed
    assert batch_tested_by_build([], {}) is None
