"""The nightly data-test mark through Dagster: the ``nightly`` job records it, a partial or failed
run does not.

Why a test of its own: Dagster splits the dbt op into several steps around the person matcher, each
a subset, and the op recorded the mark (private.incremental_marks ``_nightly_data_tests``) only
when not a subset — so no Dagster night ever recorded it, and every night re-tested every row. The
assertions are what dbt received (the ``vars`` in each invocation's run_results.json) and the mark
row itself, over real runs of the real job on the tiny preset.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from cww.postgres import Server, drop_database, drop_role, drop_roles_with_prefix
from cww.settings import Settings, get_settings
from cww.transform import DBT_PROJECT_DIR, TEST_SCOPE_KEY, TESTED_MARK, batch_tested_by_build

AS_OF = dt.date(2025, 6, 30)
# A few staging models built by hand, as someone repairing one model would.
PARTIAL_DBT = [
    dg.AssetKey(["staging", "stg_cpin__placements"]),
    dg.AssetKey(["staging", "stg_cpin__persons"]),
]


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


@pytest.fixture(scope="module")
def env(pg_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Throwaway ``cwwh7_…`` databases and roles, passed to Dagster's resource through CWW_*."""
    tag = f"cwwh7_{uuid.uuid4().hex[:8]}"
    s = Settings().model_copy(
        update={
            "source_db": f"{tag}_source",
            "warehouse_db": f"{tag}_warehouse",
            "source_reader_role": f"{tag}_reader",
            "role_prefix": tag,
            "home": tmp_path_factory.mktemp("cwwh7") / "cww_home",
        }
    )
    with pytest.MonkeyPatch.context() as mp:
        for name in ("source_db", "warehouse_db", "source_reader_role", "role_prefix", "home"):
            mp.setenv(f"CWW_{name.upper()}", str(getattr(s, name)))
        get_settings.cache_clear()
        try:
            yield s
        finally:
            get_settings.cache_clear()
            for db in (s.source_db, s.warehouse_db):
                drop_database(pg_server, db)
            drop_role(pg_server, s.source_reader_role)
            drop_roles_with_prefix(pg_server, tag)


def _run(asset_selection: list[dg.AssetKey] | None = None) -> Any:
    from dagster_project.definitions import defs

    result = defs.resolve_job_def("nightly").execute_in_process(
        raise_on_error=False, asset_selection=asset_selection
    )
    failures = {
        e.step_key: e.event_specific_data.error.message[:500] for e in result.get_step_failure_events()
    }
    assert result.success and not failures, failures
    return result


def _dbt_vars(result: Any) -> list[dict[str, Any]]:
    """The vars every dbt invocation of the run received: dagster-dbt gives each step's invocation
    a target folder of its own, ``<step's op>-<run id[:7]>-<random>``."""
    dirs = sorted(Path(DBT_PROJECT_DIR / "target").glob(f"cww_dbt*-{result.run_id[:7]}-*"))
    found = [json.loads((d / "run_results.json").read_text())["args"]["vars"] for d in dirs]
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)
    return found


def _mark(pg_server: Server, s: Settings) -> tuple[int, dt.datetime] | None:
    with pg_server.connect(s.warehouse_db) as wh:
        row = wh.execute(
            "select batch_id, recorded_at from private.incremental_marks where model = %s", (TESTED_MARK,)
        ).fetchone()
    return (int(row[0]), row[1]) if row else None


def _newest_batch(pg_server: Server, s: Settings) -> int:
    with pg_server.connect(s.warehouse_db) as wh:
        return int(wh.execute("select max(batch_id) from extract_meta.batches").fetchone()[0])


def test_the_nightly_job_records_the_mark_and_partial_or_failed_runs_do_not(
    pg_server: Server, env: Settings
) -> None:
    from dagster_project.definitions import defs
    from simulator.api import advance, init_source

    s = env
    init_source(s, "tiny", seed=42, force=True, as_of=AS_OF)

    # Night 0: every row is tested; the mark is the newest landed batch.
    night0 = _run()
    seen0 = _dbt_vars(night0)
    assert len(seen0) >= 2, seen0  # the matcher splits the dbt op: this is the case that never recorded
    assert {v["test_rows_after_batch"] for v in seen0} == {0}
    batch0 = _newest_batch(pg_server, s)
    mark0 = _mark(pg_server, s)
    assert mark0 is not None and mark0[0] == batch0

    # A partial run lands a newer batch and builds two models: the mark stays where it was.
    advance(s, 1)
    raw = [k for k in defs.resolve_job_def("nightly").asset_layer.selected_asset_keys if k.path[0] == "raw"]
    partial = _run(raw + PARTIAL_DBT)
    batch1 = _newest_batch(pg_server, s)
    assert batch1 > batch0
    events = partial.get_asset_materialization_events()
    materialised = [e.step_materialization_data.materialization for e in events]
    built = {
        m.asset_key: m.metadata[TEST_SCOPE_KEY].value for m in materialised if m.asset_key in PARTIAL_DBT
    }
    assert set(built) == set(PARTIAL_DBT)
    assert {v["upto_batch"] for v in built.values()} == {batch1}  # it saw the new batch, yet:
    assert _mark(pg_server, s) == mark0
    _dbt_vars(partial)

    # The next night: every dbt invocation tests rows after the recorded batch, then advances it.
    advance(s, 1)
    night2 = _run()
    seen2 = _dbt_vars(night2)
    assert len(seen2) >= 2 and {v["test_rows_after_batch"] for v in seen2} == {batch0}, seen2
    batch2 = _newest_batch(pg_server, s)
    assert batch2 > batch1
    mark2 = _mark(pg_server, s)
    assert mark2 is not None and mark2[0] == batch2

    # A night whose dbt fails (here: an incremental fact whose table drifted from its model, with
    # on_schema_change='fail') lands a batch but records nothing.
    advance(s, 1)
    with pg_server.connect(s.warehouse_db) as wh:
        wh.execute("alter table marts.fct_children_in_care_daily add column drifted int")
    failed = defs.resolve_job_def("nightly").execute_in_process(raise_on_error=False)
    failed_steps = {e.step_key for e in failed.get_step_failure_events()}
    assert not failed.success and any(k.startswith("cww_dbt") for k in failed_steps), failed_steps
    _dbt_vars(failed)
    assert _newest_batch(pg_server, s) > batch2
    assert _mark(pg_server, s) == mark2
