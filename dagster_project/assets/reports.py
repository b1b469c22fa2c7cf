"""CSV report deliveries as Dagster assets: wiring only, the logic is reports.runner.run_report.

* one asset per report definition, key ``["reports", <name>]``, downstream of the dbt models it
  reads (its ``upstream:`` list, matched against the dbt assets' keys when they are loaded);
* partitioned by the report's own cron (America/Toronto): partition key = the period's first date,
  the same period `cww report run NAME --date D` uses, so the delivery log is shared and a missed
  day is backfilled from the UI;
* one job and one schedule per cadence (cron), launching the period that just ended;
* the run fails (red in the UI, alerting) when a delivery exhausted its retries, an email send is
  uncertain, or a file could not be produced; a send that failed but will be retried by later runs
  is reported in the metadata and does not fail the run.
"""

import importlib.util
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path

import dagster as dg
from dagster import AssetExecutionContext

from cww.settings import Settings, get_settings
from reports.loading import LoadedDefinition, load_all
from reports.windows import TZ

PARTITIONS_START = "2020-01-01"  # backfills can go back to the start of the simulated history


def _cadence(cron: str) -> str:
    _minute, _hour, dom, _month, dow = cron.split()
    if dom == "*" and dow == "*":
        return "daily"
    if dom == "*":
        return "weekly"
    return "monthly"


def _job_name(cron: str) -> str:
    return f"reports_{_cadence(cron)}_" + re.sub(r"[^0-9a-z]+", "_", cron.lower()).strip("_")


def _dbt_asset_keys() -> dict[str, dg.AssetKey]:
    """Model name → asset key of the dbt assets, when the dbt wiring exists and loads."""
    if importlib.util.find_spec("dagster_project.assets.dbt") is None:
        return {}  # no dbt wiring yet: reports depend on nothing
    try:
        from dagster_project.assets import dbt as dbt_module  # owned by the dbt/extraction wiring
    except Exception as exc:
        dg.get_dagster_logger().warning(f"dbt assets did not load ({exc}): report lineage left out")
        return {}
    keys: dict[str, dg.AssetKey] = {}
    for value in vars(dbt_module).values():
        if isinstance(value, dg.AssetsDefinition):
            for spec in value.specs:
                # dagster-dbt records the node ("model.cww.rpt_placements"): match on the model name
                # whatever key prefix or alias the translator chose; else the key's last part.
                unique_id = str(spec.metadata.get("dagster_dbt/unique_id", ""))
                keys.setdefault(unique_id.split(".")[-1] if unique_id else spec.key.path[-1], spec.key)
    return keys


def _report_asset(
    loaded: LoadedDefinition,
    partitions: dg.TimeWindowPartitionsDefinition,
    deps: list[dg.AssetKey],
    settings_factory: Callable[[], Settings],
    directory: Path | None,
) -> dg.AssetsDefinition:
    d = loaded.definition

    @dg.asset(
        name=d.name,
        key_prefix=["reports"],
        partitions_def=partitions,
        deps=deps,
        group_name="reports",
        kinds={"csv"},
        description=f"{d.title}. {d.description}".strip(),
        metadata={
            "definition": str(loaded.file),
            "schedule (Toronto)": d.schedule,
            "split": ", ".join(d.split),
        },
    )
    def deliver(context: AssetExecutionContext) -> dg.MaterializeResult:
        from reports.loading import load_one
        from reports.runner import run_report

        fresh = load_one(d.name, directory)  # the YAML as it is now, not as it was at load time
        result = run_report(
            settings_factory(),
            fresh,
            date.fromisoformat(context.partition_key),
            on_outcome=lambda o: context.log.info(
                f"{o.status}: {o.agency} → {o.destination} {o.rows if o.rows is not None else ''} {o.detail}"
            ),
        )
        if result.skipped:
            context.log.warning(result.skipped)
        metadata = {
            "summary": result.summary(),
            "delivered": result.count("delivered"),
            "already delivered": result.count("already-delivered"),
            "held (data quality)": result.count("held"),
            "failed, will retry": result.count("failed", "waiting"),
            "rows": sum(o.rows or 0 for o in result.outcomes if o.status == "delivered"),
        }
        if result.problems:
            raise dg.Failure(
                description="; ".join(
                    f"{o.agency} → {o.destination}: {o.status}: {o.detail}" for o in result.problems
                )[:4000],
                metadata=metadata,
            )
        return dg.MaterializeResult(metadata=metadata)

    return deliver


def build_defs(
    directory: Path | None = None, settings_factory: Callable[[], Settings] = get_settings
) -> dg.Definitions:
    """Assets, jobs and schedules for every valid definition (invalid ones are logged and left out)."""
    good, bad = load_all(directory)
    for problem in bad:
        dg.get_dagster_logger().warning(f"report definition skipped: {problem}")
    dbt_keys = _dbt_asset_keys()
    by_cron: dict[str, list[dg.AssetsDefinition]] = {}
    partitions: dict[str, dg.TimeWindowPartitionsDefinition] = {}
    for loaded in good:
        cron = loaded.definition.schedule
        if cron not in partitions:
            partitions[cron] = dg.TimeWindowPartitionsDefinition(
                cron_schedule=cron, start=PARTITIONS_START, fmt="%Y-%m-%d", timezone=str(TZ)
            )
        deps = [dbt_keys[m] for m in loaded.definition.upstream if m in dbt_keys]
        by_cron.setdefault(cron, []).append(
            _report_asset(loaded, partitions[cron], deps, settings_factory, directory)
        )
    jobs, schedules = [], []
    for cron, assets in by_cron.items():
        job = dg.define_asset_job(
            _job_name(cron),
            selection=dg.AssetSelection.assets(*assets),
            description=f"CSV reports on cron {cron!r} (America/Toronto)",
        )
        jobs.append(job)
        schedules.append(
            dg.build_schedule_from_partitioned_job(
                job, name=f"{_job_name(cron)}_schedule", default_status=dg.DefaultScheduleStatus.RUNNING
            )
        )
    all_assets = [a for assets in by_cron.values() for a in assets]
    return dg.Definitions(assets=all_assets, jobs=jobs, schedules=schedules)


defs = build_defs()
