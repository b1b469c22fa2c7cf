"""Person search is wired into the nightly Dagster job, downstream of the dbt models it reads."""

from __future__ import annotations

import dagster as dg


def test_search_asset_runs_nightly_after_dbt() -> None:
    from dagster_project.assets.search import DBT_INPUTS
    from dagster_project.definitions import defs

    graph = defs.resolve_asset_graph()
    key = dg.AssetKey(["search", "person"])
    upstream = {k for k in graph.get(key).parent_keys}
    assert upstream == {dg.AssetKey(list(k)) for k in DBT_INPUTS}
    # Every input is a real dbt asset of the code location (not a dangling external key) …
    assert all(graph.get(k).is_materializable for k in upstream)
    # … so the search refresh is in the nightly job, after matching and dbt.
    nightly = defs.resolve_job_def("nightly")
    assert key in nightly.asset_layer.selected_asset_keys
    assert (
        dg.AssetKey(["data_quality", "person_match"])
        in graph.get(dg.AssetKey(["intermediate", "int_persons_mastered"])).parent_keys
    )
