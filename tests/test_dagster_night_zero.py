"""Night 0 through Dagster: the ordinary ``nightly`` job bootstraps an EMPTY warehouse (no database
yet), then, after one simulated day, the same job runs incrementally.

Why a test of its own: the data team schedules only the ``nightly`` job, so night 0 must not need
`cww nightly --full` or the libraries by hand. Each stage decides for itself that it is the first
run — the extract has no watermark (``initial`` loads), the matcher has no earlier match run
(full matching), dbt finds no relation to increment (incremental models and snapshots are
created), search has no refresh (full rebuild) — and the job carries the dbt seeds, which are not
downstream of raw. Before 4ab4d90 the job failed here: every staging view stopped on
``relation "staging.code_labels" does not exist``. The assertions are outcomes, not step
statuses: raw equals the source row for row, "where are my kids" equals the source's children in
open placements, every person is matched and searchable.

The same nights also carry the nightly data-test mark's checks (tests/test_dagster_test_mark.py has
the rule itself): Dagster splits the dbt op into several steps around the person matcher, and the
mark (private.incremental_marks ``_nightly_data_tests``) must be recorded by the step that completes
a run building every node — not by a partial run, not by a failed one. What dbt received is read
from each invocation's run_results.json. One module, so that night 0 and the next night run once.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from cww.postgres import Server
from cww.settings import Settings, get_settings
from cww.transform import DBT_PROJECT_DIR, TEST_SCOPE_KEY, TESTED_MARK

AS_OF = dt.date(2025, 6, 30)
# A few staging models built by hand, as someone repairing one model would.
PARTIAL_DBT = [
    dg.AssetKey(["staging", "stg_cpin__placements"]),
    dg.AssetKey(["staging", "stg_cpin__persons"]),
]


@pytest.fixture(scope="module")
def env(module_settings: Settings) -> Iterator[Settings]:
    """Dagster's resource reads the settings from the environment: point it at this module's names."""
    with pytest.MonkeyPatch.context() as mp:
        for name in ("source_db", "warehouse_db", "source_reader_role", "role_prefix", "home"):
            mp.setenv(f"CWW_{name.upper()}", str(getattr(module_settings, name)))
        get_settings.cache_clear()
        try:
            yield module_settings
        finally:
            get_settings.cache_clear()


def _run_nightly(asset_selection: list[dg.AssetKey] | None = None) -> Any:
    from dagster_project.definitions import defs

    return defs.resolve_job_def("nightly").execute_in_process(
        raise_on_error=False, asset_selection=asset_selection
    )


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


def _assert_clean(result: Any) -> None:
    failures = {
        e.step_key: e.event_specific_data.error.message[:500] for e in result.get_step_failure_events()
    }
    assert result.success and not failures, failures
    skipped = [e.step_key for e in result.all_events if e.event_type_value == "STEP_SKIPPED"]
    assert skipped == []


def _assert_raw_equals_source(pg_server: Server, s: Settings) -> None:
    from extract.api import reconcile
    from extract.registry import load_registry

    rec = reconcile(s)
    assert rec.ok, [t.describe() for t in rec.tables if not t.ok]
    # and plainly, per table: live raw rows = source rows (no rejects in a clean simulated source)
    with pg_server.connect(s.source_db) as src, pg_server.connect(s.warehouse_db) as wh:
        for t in load_registry().tables:
            want = src.execute(f'select count(*) from cpin."{t.name}"').fetchone()[0]
            got = wh.execute(f'select count(*) from raw."{t.name}" where not _deleted').fetchone()[0]
            assert (t.name, got) == (t.name, want)
            assert want > 0, t.name


def _children_in_open_placements(src: Any, day: dt.date) -> set[int]:
    """The source's children in care on ``day``: a live placement covering it (ranges are [start, end))."""
    return {
        r[0]
        for r in src.execute(
            "select distinct person_id from cpin.placement"
            " where not is_deleted and start_date <= %(d)s and (end_date is null or end_date > %(d)s)",
            {"d": day},
        )
    }


def _assert_marts_match_the_source(pg_server: Server, s: Settings, day: dt.date) -> None:
    from data_quality.crosscheck import crosscheck

    with pg_server.connect(s.source_db) as src, pg_server.connect(s.warehouse_db) as wh:
        in_care = _children_in_open_placements(src, day)
        mart = wh.execute("select child_id, as_of_date from marts.children_in_care_current").fetchall()
    assert len(in_care) > 50
    assert {r[0] for r in mart} == in_care and len(mart) == len(in_care)
    assert {r[1] for r in mart} == {day}
    # the independent recomputation (placements, providers, master persons, every indicator)
    check = crosscheck(s, pg_server)
    assert check.ok, check.lines()


def _assert_every_person_matched_and_searchable(pg_server: Server, s: Settings) -> None:
    from data_quality.search.query import run_search

    with pg_server.connect(s.source_db) as src, pg_server.connect(s.warehouse_db) as wh:
        persons = {r[0] for r in src.execute("select person_id from cpin.person where not is_deleted")}
        matched = dict(wh.execute("select person_id, master_person_id from data_quality.master_person"))
        indexed = {r[0] for r in wh.execute("select person_id from search.person")}
        assert set(matched) == persons and indexed == persons
        assert sum(1 for p, m in matched.items() if p != m) > 100  # duplicates were merged, not identity
        # a child in care is found by name and birth date, as its master person
        child, given, surname, born = wh.execute(
            "select p.person_id, p.given_tokens[1], p.sur_tokens[1], p.birth_date"
            " from search.person p join marts.children_in_care_current k on k.child_id = p.person_id"
            " where cardinality(p.given_tokens) = 1 and cardinality(p.sur_tokens) = 1"
            " and p.birth_date is not null and length(p.sur_tokens[1]) >= 5 order by p.person_id limit 1"
        ).fetchone()
        hits = run_search(wh, f"{given} {surname} {born}", 5)
    assert matched[child] in {h.master_person_id for h in hits}, (given, surname, born, hits)


@pytest.fixture(scope="module")
def night_zero(pg_server: Server, env: Settings) -> tuple[Settings, Any]:
    from simulator.api import init_source

    s = env
    init_source(s, "tiny", seed=42, force=True, as_of=AS_OF)
    with pg_server.connect() as conn:  # empty means empty: not even the database exists yet
        assert (
            conn.execute("select 1 from pg_database where datname = %s", (s.warehouse_db,)).fetchone() is None
        )
    result = _run_nightly()
    state = {"result": result, "dbt_vars": _dbt_vars(result)}
    if result.success:
        state["batch"], state["mark"] = _newest_batch(pg_server, s), _mark(pg_server, s)
    return s, state


def test_the_nightly_job_builds_an_empty_warehouse(
    pg_server: Server, night_zero: tuple[Settings, Any]
) -> None:
    s, state = night_zero
    result = state["result"]
    _assert_clean(result)
    # every row tested on night 0, by a dbt op split into several steps; the mark = the newest batch
    assert len(state["dbt_vars"]) >= 2, state["dbt_vars"]
    assert {v["test_rows_after_batch"] for v in state["dbt_vars"]} == {0}
    assert state["mark"] is not None and state["mark"][0] == state["batch"]
    with pg_server.connect(s.warehouse_db) as wh:
        # each stage knew it was the first run
        assert {r[0] for r in wh.execute("select distinct mode from extract_meta.table_loads")} == {"initial"}
        assert wh.execute("select mode from data_quality.match_run").fetchall() == [("full",)]
        assert wh.execute("select mode from search.refresh_log").fetchall() == [("full",)]
        assert wh.execute("select count(*) from staging.code_labels").fetchone()[0] > 0  # the seeds
    _assert_raw_equals_source(pg_server, s)
    _assert_marts_match_the_source(pg_server, s, AS_OF)
    _assert_every_person_matched_and_searchable(pg_server, s)


def test_after_a_partial_run_and_a_day_the_same_job_runs_incrementally(
    pg_server: Server, night_zero: tuple[Settings, Any]
) -> None:
    from dagster_project.definitions import defs
    from simulator.api import advance

    s, state = night_zero
    assert state["result"].success  # (the night-0 test says why not)

    # A partial run lands a newer batch and builds two models: the mark stays where it was.
    advance(s, 1)
    raw = [k for k in defs.resolve_job_def("nightly").asset_layer.selected_asset_keys if k.path[0] == "raw"]
    partial = _run_nightly(raw + PARTIAL_DBT)
    _assert_clean(partial)
    batch1 = _newest_batch(pg_server, s)
    assert batch1 > state["batch"]
    events = partial.get_asset_materialization_events()
    materialised = [e.step_materialization_data.materialization for e in events]
    built = {
        m.asset_key: m.metadata[TEST_SCOPE_KEY].value for m in materialised if m.asset_key in PARTIAL_DBT
    }
    assert set(built) == set(PARTIAL_DBT)
    assert {v["upto_batch"] for v in built.values()} == {batch1}  # it saw the new batch, yet:
    assert _mark(pg_server, s) == state["mark"]
    _dbt_vars(partial)

    advance(s, 1)
    day = AS_OF + dt.timedelta(days=2)
    with pg_server.connect(s.source_db) as src:
        new_people = src.execute("select count(*) from cpin.person where created_at::date = %s", (day,))
        assert new_people.fetchone()[0] > 0  # the day brings someone to match and index

    result = _run_nightly()
    _assert_clean(result)
    # every dbt invocation tested only rows after night 0's batch, then the mark moved on
    seen = _dbt_vars(result)
    assert len(seen) >= 2 and {v["test_rows_after_batch"] for v in seen} == {state["batch"]}, seen
    batch2 = _newest_batch(pg_server, s)
    assert batch2 > batch1
    mark2 = _mark(pg_server, s)
    assert mark2 is not None and mark2[0] == batch2
    with pg_server.connect(s.warehouse_db) as wh:
        modes = dict(
            wh.execute(
                "select table_name, mode from extract_meta.table_loads"
                " where batch_id = (select max(batch_id) from extract_meta.batches)"
            ).fetchall()
        )
        assert set(modes.values()) <= {"watermark", "snapshot"}, modes  # no re-read of whole tables
        assert wh.execute(
            "select mode from data_quality.match_run order by run_id desc limit 1"
        ).fetchone() == ("incremental",)
        assert wh.execute(
            "select mode from search.refresh_log order by refreshed_at desc limit 1"
        ).fetchone() == ("incremental",)
        # incremental models kept the earlier rows and added the new days
        days = wh.execute(
            "select min(care_date), max(care_date) from marts.fct_children_in_care_daily"
        ).fetchone()
        assert days[0] < AS_OF and days[1] == day
    _assert_raw_equals_source(pg_server, s)
    _assert_marts_match_the_source(pg_server, s, day)
    _assert_every_person_matched_and_searchable(pg_server, s)

    # A night whose dbt fails (an incremental fact whose table drifted from its model, with
    # on_schema_change='fail') lands a batch but records no mark.
    advance(s, 1)
    with pg_server.connect(s.warehouse_db) as wh:
        wh.execute("alter table marts.fct_children_in_care_daily add column drifted int")
    failed = _run_nightly()
    failed_steps = {e.step_key for e in failed.get_step_failure_events()}
    assert not failed.success and any(k.startswith("cww_dbt") for k in failed_steps), failed_steps
    _dbt_vars(failed)
    assert _newest_batch(pg_server, s) > batch2
    assert _mark(pg_server, s) == mark2
