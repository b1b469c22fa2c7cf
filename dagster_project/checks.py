"""Great Expectations suites as Dagster asset checks: wiring only (logic: data_quality.expectations).

One check step per suite, on the asset the suite guards (``["raw", <table>]`` for the raw suites,
``["marts", <model>]`` for the marts dashboards read). Each step yields:

* ``gx_blocking`` (``blocking=True``, severity ERROR): any blocking expectation failed — Dagster
  then skips the steps downstream of the asset in the same run, so tonight's broken data does not
  flow on, while unrelated assets still build;
* ``gx_warnings`` (severity WARN): the warning expectations; shown, never blocking;
* for mart suites, ``gx_expectations`` (severity ERROR) on the mart and ``gx_blocking`` on the
  reporting views that read it: the views are built in the same dbt step as the mart (Dagster
  cannot stop a step half-way), so the block applies to the views' readers — the dashboards and
  report-delivery assets.

Limit (see README): dagster-dbt exempts the dbt step from blocking checks on the raw assets,
because the dbt step itself owns checks on them (dbt source tests). A failed raw suite therefore
blocks every non-dbt asset downstream (e.g. the duplicate matcher) and holds the CSV deliveries
back, but does not stop dbt; ``data_quality.expectations.gate.dbt_exclusions`` gives the dbt step
the selectors to leave out.

The run is the same ``run_dq`` the CLI calls: results land in the warehouse ``dq`` schema, Data
Docs are refreshed, and the suite's blocking status is recorded for the CSV report hold-back.
"""

from collections.abc import Iterator

import dagster as dg
from dagster import AssetCheckExecutionContext

from dagster_project.resources import RESOURCE_KEY, CwwSettingsResource

BLOCKING = "gx_blocking"
WARNINGS = "gx_warnings"
MART = "gx_expectations"


def _slug(suite: str) -> str:
    return "gx_" + suite.replace(".", "_")


def build_suite_check(
    suite: str, asset_key: tuple[str, ...], also_guards: tuple[tuple[str, ...], ...] = ()
) -> dg.AssetChecksDefinition:
    """The check step of one suite (one op per suite, so a failure blocks only its asset)."""
    key = dg.AssetKey(list(asset_key))
    guarded = [dg.AssetKey(list(k)) for k in also_guards]
    # Blocking where Dagster can act on it: on a raw asset, or on the reporting views of a mart.
    # Not on a mart itself: the dbt assets run as steps that both feed and read the marts, and a
    # blocking check there would make the dbt step wait on itself (a cycle).
    main_name = BLOCKING if not guarded else MART
    specs = [
        dg.AssetCheckSpec(
            main_name, asset=key, blocking=not guarded, description=f"{suite}: blocking expectations"
        ),
        dg.AssetCheckSpec(WARNINGS, asset=key, description=f"{suite}: warning expectations"),
    ] + [
        dg.AssetCheckSpec(BLOCKING, asset=g, blocking=True, description=f"{suite} (the mart this view reads)")
        for g in guarded
    ]

    @dg.multi_asset_check(name=_slug(suite), specs=specs, required_resource_keys={RESOURCE_KEY})
    def _suite_check(context: AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        from data_quality.expectations.runner import run_dq

        resource: CwwSettingsResource = getattr(context.resources, RESOURCE_KEY)
        run = run_dq(resource.settings(), [suite])
        outcome = run.outcome(suite)
        for line in run.failures():
            context.log.warning(line)
        common = {"dq_run_id": run.run_id, "as_of": str(run.as_of), "data_docs": str(run.docs_index)}
        blocking = [r for r in outcome.rows if r.blocking]
        warnings = [r for r in outcome.rows if not r.blocking]
        results = [(key, main_name, blocking, dg.AssetCheckSeverity.ERROR)]
        results.append((key, WARNINGS, warnings, dg.AssetCheckSeverity.WARN))
        results += [(g, BLOCKING, blocking, dg.AssetCheckSeverity.ERROR) for g in guarded]
        for asset, name, rows, severity in results:
            failed = [r for r in rows if not r.passed]
            yield dg.AssetCheckResult(
                asset_key=asset,
                check_name=name,
                passed=not failed,
                severity=severity,
                description="; ".join(r.message for r in failed) or f"{len(rows)} expectations passed",
                metadata={
                    **common,
                    "expectations": len(rows),
                    "failed": len(failed),
                    "failures": dg.MetadataValue.md("\n".join(f"- {r.message}" for r in failed) or "none"),
                },
            )

    return _suite_check


def build_checks() -> list[dg.AssetChecksDefinition]:
    from data_quality.expectations.runner import suites_for_wiring

    return [build_suite_check(s.name, s.asset_key, s.also_guards) for s in suites_for_wiring()]
