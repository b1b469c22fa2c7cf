"""Superset as a Dagster asset: wiring only (logic: dashboards.demo.refresh_if_running).

Key ``["dashboards", "superset"]``, downstream of every dbt model in the ``reporting`` schema (the
views the dashboards read), so the nightly job re-provisions Superset after the build: datasets
follow the columns dbt produced, new agencies get their connection, role, login and RLS rules.
When no Superset started by `cww dashboards up` is running, the asset is skipped cleanly (no
materialization, no failure): the pipeline never depends on the dashboards being up.
"""

from collections.abc import Iterator

import dagster as dg
from dagster import AssetExecutionContext

from dagster_project.resources import RESOURCE_KEY, CwwSettingsResource

KEY = dg.AssetKey(["dashboards", "superset"])


def reporting_keys() -> list[dg.AssetKey]:
    """Asset keys of the dbt models in schema ``reporting`` (empty when the dbt wiring is absent)."""
    try:
        from dagster_project.assets import dbt as dbt_module
    except Exception as exc:  # the dbt wiring failed to load: keep the asset, without lineage
        dg.get_dagster_logger().warning(f"dbt assets did not load ({exc}): dashboards lineage left out")
        return []
    keys: set[dg.AssetKey] = set()
    for value in vars(dbt_module).values():
        if isinstance(value, dg.AssetsDefinition):
            keys.update(k for k in value.keys if k.path[0] == "reporting")
    return sorted(keys, key=lambda k: k.to_user_string())


@dg.asset(
    key=KEY,
    group_name="dashboards",
    deps=reporting_keys(),
    required_resource_keys={RESOURCE_KEY},
    output_required=False,
    kinds={"superset"},
    description="Re-provision the running Superset (bundle, roles, RLS) after the reporting views are "
    "rebuilt; skipped when Superset is not running.",
)
def superset_dashboards(context: AssetExecutionContext) -> Iterator[dg.MaterializeResult]:
    from dashboards.demo import refresh_if_running

    resource: CwwSettingsResource = getattr(context.resources, RESOURCE_KEY)
    lines = refresh_if_running(resource.settings())
    if lines is None:
        context.log.info("Superset is not running (start it with `cww dashboards up`): skipped")
        return
    for line in lines:
        context.log.info(line)
    yield dg.MaterializeResult(metadata={"summary": "\n".join(lines)})


defs = dg.Definitions(assets=[superset_dashboards])
