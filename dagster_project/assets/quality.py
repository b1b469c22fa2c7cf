"""Duplicate-person matching as a Dagster asset: wiring only (logic: data_quality.dedupe.warehouse).

Key ``["data_quality", "person_match"]``: the relation dbt's ``int_persons_mastered`` reads
(``data_quality.person_match``), so a dbt source declared on it links the two automatically.
It runs after the raw person tables land and costs what changed (incremental matching).
"""

import dagster as dg
from dagster import AssetExecutionContext

from dagster_project.checks import build_checks
from dagster_project.resources import RESOURCE_KEY, CwwSettingsResource

GROUP = "data_quality"


@dg.asset(
    key=dg.AssetKey(["data_quality", "person_match"]),
    group_name=GROUP,
    deps=[dg.AssetKey(["raw", t]) for t in ("person", "person_address", "person_relationship")],
    required_resource_keys={RESOURCE_KEY},
    description="person_id → master_person_id (Splink, incremental) and candidate pairs for review.",
    kinds={"splink", "postgres"},
)
def person_match(context: AssetExecutionContext) -> dg.MaterializeResult:
    from data_quality.dedupe.warehouse import run_matching

    resource: CwwSettingsResource = getattr(context.resources, RESOURCE_KEY)
    summary = run_matching(resource.settings())
    for line in summary.lines():
        context.log.info(line)
    return dg.MaterializeResult(
        metadata={
            "mode": summary.mode,
            "persons": summary.persons,
            "new_or_changed": summary.changed,
            "removed": summary.removed,
            "candidate_pairs": summary.pairs,
            "merged_records": summary.merged_records,
            "model_version": summary.model_version,
            "seconds": round(summary.seconds, 2),
        }
    )


# The Great Expectations suites ride along as asset checks on the raw and mart assets (checks.py).
defs = dg.Definitions(assets=[person_match], asset_checks=build_checks())
