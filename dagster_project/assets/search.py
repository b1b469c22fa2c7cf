"""Person search refresh as a Dagster asset: wiring only (logic: data_quality.search.install).

Key ``["search", "person"]``: the search tables behind ``reporting.search_person``. They are
rebuilt from what dbt built after duplicate matching (master persons, placements, agencies,
addresses), so the asset depends on those dbt models and joins the nightly job through them.
"""

import dagster as dg
from dagster import AssetExecutionContext

from dagster_project.resources import RESOURCE_KEY, CwwSettingsResource

DBT_INPUTS = (
    ("intermediate", "int_persons_mastered"),
    ("intermediate", "int_person_addresses_current"),
    ("marts", "dim_agency"),
    ("marts", "fct_placements"),
    ("reporting", "agency_roles"),
)


@dg.asset(
    key=dg.AssetKey(["search", "person"]),
    group_name="data_quality",
    deps=[dg.AssetKey(list(k)) for k in DBT_INPUTS],
    required_resource_keys={RESOURCE_KEY},
    description="Tables and function behind reporting.search_person (free-text person search).",
    kinds={"postgres"},
)
def search_person(context: AssetExecutionContext) -> dg.MaterializeResult:
    from data_quality.search import refresh_search

    resource: CwwSettingsResource = getattr(context.resources, RESOURCE_KEY)
    summary = refresh_search(resource.settings())
    for line in summary.lines():
        context.log.info(line)
    return dg.MaterializeResult(
        metadata={
            "person_records": summary.persons,
            "master_persons": summary.master_persons,
            "history_rows": summary.history_rows,
            "name_tokens": summary.vocabulary,
            "seconds": round(summary.seconds, 2),
            "mode": summary.mode,
            "person_records_refreshed": summary.touched if summary.touched is not None else summary.persons,
        }
    )


defs = dg.Definitions(assets=[search_person])
