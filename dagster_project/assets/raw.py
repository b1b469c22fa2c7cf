"""Raw layer assets: one asset per extract-registry table, key ``["raw", <table>]``.

Wiring only — ``extract.api.run_extract`` does the work. The tables are one multi-asset that can
be subset, so a run takes the warehouse lock once and lands every selected table in one batch,
while the UI still shows (and dbt sources link to) one asset per table.

Failure policy: connection problems (source or warehouse unreachable, another run holding the
lock) are retried with exponential back-off by the RetryPolicy; a table that fails on its own
(schema drift, a broken rule) is not retried — re-running cannot fix it — and the other tables'
materialisations are still recorded before the step fails with the table's message.
"""

from collections.abc import Iterator

import dagster as dg

from dagster_project.resources import CwwSettingsResource
from extract.connect import SourceUnavailableError, WarehouseUnavailableError
from extract.meta import ExtractBusyError
from extract.options import ExtractOptions
from extract.registry import load_registry

RETRY = dg.RetryPolicy(max_retries=3, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
GROUP = "raw"


def _specs() -> list[dg.AssetSpec]:
    registry = load_registry()
    specs = []
    for t in registry.tables:
        tracking = (
            f"watermark on {t.watermark_column}, look-back {t.lookback}"
            if t.mode == "watermark"
            else "snapshot diff"
        )
        specs.append(
            dg.AssetSpec(
                key=dg.AssetKey(["raw", t.name]),
                group_name=GROUP,
                kinds={"postgres"},
                skippable=True,
                description=f"Current state of source table {registry.source_schema}.{t.name} ({tracking}).",
                metadata={"primary_key": ", ".join(t.key), "change_tracking": tracking},
            )
        )
    return specs


def build_raw_tables(retry_policy: dg.RetryPolicy = RETRY) -> dg.AssetsDefinition:
    """The raw multi-asset (a factory so tests can use a retry policy measured in milliseconds)."""

    @dg.multi_asset(specs=_specs(), can_subset=True, retry_policy=retry_policy, name="raw_tables")
    def raw_tables(
        context: dg.AssetExecutionContext, cww_settings: CwwSettingsResource
    ) -> Iterator[dg.MaterializeResult]:
        """Extract the selected tables into warehouse.raw (incremental; see extract/)."""
        from extract.api import run_extract

        tables = [key.path[-1] for key in context.selected_asset_keys]
        options = ExtractOptions()
        if options.lock_wait_seconds == 0:
            options.lock_wait_seconds = 60  # a scheduled run waits a little for a manual one
        try:
            summary = run_extract(cww_settings.settings(), tables, options=options)
        except (SourceUnavailableError, WarehouseUnavailableError, ExtractBusyError) as exc:
            context.log.warning(f"extract could not start (will retry with back-off): {exc}")
            raise
        for r in summary.tables:
            if r.status != "ok":
                continue
            yield dg.MaterializeResult(
                asset_key=dg.AssetKey(["raw", r.table]),
                metadata={
                    "batch_id": summary.batch_id,
                    "path": r.path,
                    "mode": r.mode,
                    "rows_read": r.rows_read,
                    "inserted": r.inserted,
                    "updated": r.updated,
                    "soft_deleted": r.soft_deleted,
                    "hard_deleted": r.deleted,
                    "rejected": r.rejected,
                    "mb": dg.MetadataValue.float(round(r.mb, 3)),
                    "seconds": dg.MetadataValue.float(round(r.seconds, 3)),
                    "watermark": str(r.watermark_to) if r.watermark_to else "",
                    "warnings": "\n".join(r.warnings),
                },
            )
        if summary.failed:
            raise dg.Failure(
                description="; ".join(r.error or r.table for r in summary.failed),
                metadata={
                    "failed_tables": ", ".join(r.table for r in summary.failed),
                    "batch_id": summary.batch_id,
                },
                allow_retries=False,
            )

    return raw_tables


raw_tables = build_raw_tables()

defs = dg.Definitions(assets=[raw_tables])
