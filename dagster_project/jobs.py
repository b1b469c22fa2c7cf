"""The ``nightly`` job: raw tables and everything downstream of them, in one process.

The same job is night 0: on an empty warehouse (not even the database) each library sees its
first run by itself — extract has no watermarks, the matcher no earlier match run, dbt no relation
to increment, search no refresh — so nobody has to run `cww nightly --full` before enabling the
schedule (tests/test_dagster_night_zero.py).

The selection grows by itself as other parts add assets downstream of the raw tables (dbt
models, checks, dashboards). Report deliveries are partitioned by their own calendars and run in
their own jobs, so they are left out here. ``in_process``: on 2 cores the multiprocess executor
spends most of its time starting processes (STACK.md).
"""

from __future__ import annotations

import dagster as dg

# dbt seeds (code tables) are not downstream of raw, but staging reads them: without them the
# first night on an empty warehouse fails.
NIGHTLY_SELECTION = (
    dg.AssetSelection.groups("raw").downstream() | dg.AssetSelection.groups("dbt_seeds")
) - dg.AssetSelection.groups("reports")

nightly_job = dg.define_asset_job(
    name="nightly",
    selection=NIGHTLY_SELECTION,
    executor_def=dg.in_process_executor,
    description=(
        "Nightly: extract the source incrementally, then build what depends on it. Night 0 needs "
        "nothing else: on an empty warehouse every stage does its first run (full extract, full "
        "person matching, dbt creates incremental models and snapshots, search full rebuild)."
    ),
    tags={"cww/area": "nightly"},
)

defs = dg.Definitions(jobs=[nightly_job])
