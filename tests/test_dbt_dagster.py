"""The dbt assets in Dagster: lineage from the raw assets, tests as asset checks, and a real
materialisation of every dbt asset (dbt CLI via dagster-dbt) into the hand-made warehouse."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pytest

from cww.postgres import Server
from cww.settings import Settings, get_settings


@pytest.fixture
def env_settings(monkeypatch: pytest.MonkeyPatch, dbt_hand_warehouse: Settings) -> Iterator[Settings]:
    """Dagster's resource reads the environment: point it at the test warehouse and role prefix."""
    monkeypatch.setenv("CWW_ROLE_PREFIX", dbt_hand_warehouse.role_prefix)
    monkeypatch.setenv("CWW_HOME", str(dbt_hand_warehouse.home))
    get_settings.cache_clear()
    yield dbt_hand_warehouse
    get_settings.cache_clear()


def test_dbt_sources_are_the_raw_assets_and_tests_are_checks() -> None:
    from dagster_project.definitions import defs

    graph = defs.get_repository_def().asset_graph
    parents = graph.get(dg.AssetKey(["staging", "stg_cpin__placements"])).parent_keys
    assert dg.AssetKey(["raw", "placement"]) in parents
    checks = {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys}
    assert ("raw/placement", "source_unique_cpin_placement_placement_id") in checks
    assert any(k == "marts/children_in_care_current" and "unique" in n for k, n in checks)
    nightly = defs.resolve_job_def("nightly")
    selected = {k.to_user_string() for k in nightly.asset_layer.selected_asset_keys}
    assert {
        "raw/placement",
        "marts/children_in_care_current",
        "reporting/rpt_children_in_care_current",
    } <= selected
    # Seeds are not downstream of raw, but the first night on an empty warehouse needs them.
    seeds = {
        k.to_user_string() for k in graph.materializable_asset_keys if graph.get(k).group_name == "dbt_seeds"
    }
    assert seeds and seeds <= selected


def test_materialising_the_dbt_assets_builds_the_marts(pg_server: Server, env_settings: Settings) -> None:
    from dagster_project.assets.dbt import defs as dbt_defs
    from dagster_project.resources import CwwSettingsResource

    settings = env_settings
    assets = list(dbt_defs.assets)
    resource = CwwSettingsResource(pg_url=settings.pg_url, warehouse_db=settings.warehouse_db)
    with pg_server.connect(settings.warehouse_db) as conn:
        conn.execute("truncate marts.children_in_care_current")  # the run must rebuild it
    result = dg.materialize(
        assets,
        resources={"dbt": dbt_defs.resources["dbt"], "cww_settings": resource},
        selection=dg.AssetSelection.all(),
        raise_on_error=False,
    )
    assert result.success
    materialised = {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()}
    assert {
        "marts/children_in_care_current",
        "marts/fct_indicators",
        "reporting/agency_roles",
    } <= materialised
    checks = result.get_asset_check_evaluations()
    assert len(checks) > 50 and all(c.passed for c in checks), [c.check_name for c in checks if not c.passed]
    with pg_server.connect(settings.warehouse_db) as conn:
        assert conn.execute("select count(*) from marts.children_in_care_current").fetchone()[0] == 5
