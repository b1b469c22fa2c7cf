"""Great Expectations suites as Dagster asset checks: wiring only (logic: data_quality.expectations).

One check step per suite, on the asset the suite guards (``["raw", <table>]`` for the raw suites,
``["marts", <model>]`` for the marts dashboards read). Each step yields:

* ``gx_blocking`` (``blocking=True``): any blocking expectation failed;
* ``gx_warnings`` (severity WARN): the warning expectations; shown, never blocking;
* for mart suites, ``gx_expectations`` (severity ERROR) on the mart and ``gx_blocking`` (severity
  ERROR) on the reporting views that read it: the views are built in the same dbt step as the mart
  (Dagster cannot stop a step half-way), so the block applies to the views' readers — the
  dashboards and report-delivery assets, which Dagster then skips.

**Raw suites gate in two places, and only after every raw check of the run has finished.**
``blocking=True`` makes every step that reads a raw table wait for its check steps — except the
dbt step, which dagster-dbt exempts because it owns checks on the raw tables itself (dbt source
tests). So the dbt models also depend on the gate asset ``["data_quality", "raw_gate"]`` (see
``assets/quality.py``), which reads every raw table and therefore waits for all raw check steps.
A failed raw ``gx_blocking`` result has severity WARN: with ERROR, Dagster would fail the check
step, and every step after it — the gate and so the whole dbt build — would never start. Instead:

* the dbt step leaves out the models downstream of the failed tables (``--exclude
  source:cpin.<table>+``), using the check results of *this* run (``raw_check_outcomes``);
* the duplicate matcher holds (no materialisation) when one of its tables failed, so the dbt
  models reading master persons are skipped too and keep yesterday's state.

The run is the same ``run_dq`` the CLI calls: results land in the warehouse ``dq`` schema, Data
Docs are refreshed, and the suite's blocking status is recorded for the CSV report hold-back.
Raw suites run in nightly mode (row checks on the rows landed since the suite's last accepted run,
a never-accepted suite whole), as `cww nightly` does; a run tagged ``cww/dq_mode=full`` checks
every live row.
"""

from collections.abc import Iterator

import dagster as dg
from dagster import AssetCheckExecutionContext

from cww.postgres import is_connection_loss
from dagster_project.resources import RESOURCE_KEY, CwwSettingsResource

BLOCKING = "gx_blocking"
WARNINGS = "gx_warnings"
MART = "gx_expectations"
# The asset that waits for every raw check step of a run; dbt models and the matcher depend on it.
RAW_GATE = dg.AssetKey(["data_quality", "raw_gate"])
# Run tag choosing the data-quality mode (data_quality.expectations.scope.MODES); default nightly.
MODE_TAG = "cww/dq_mode"
# A check step that loses the warehouse (restart, failover) tries again this often, this long apart.
RETRIES = 3
RETRY_SECONDS = 20.0


def _slug(suite: str) -> str:
    return "gx_" + suite.replace(".", "_")


def build_suite_check(
    suite: str,
    asset_key: tuple[str, ...],
    also_guards: tuple[tuple[str, ...], ...] = (),
    retry_seconds: float = RETRY_SECONDS,
) -> dg.AssetChecksDefinition:
    """The check step of one suite (one op per suite, so a failure blocks only its asset).

    A lost warehouse connection (a restart, a failover) is retried up to RETRIES times after
    ``retry_seconds``; any other error fails the step at once, as re-running cannot fix it.
    """
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
        try:
            run = run_dq(resource.settings(), [suite], mode=context.run.tags.get(MODE_TAG, "nightly"))
        except Exception as exc:
            if not is_connection_loss(exc):
                raise
            context.log.warning(f"{suite}: lost the warehouse ({exc}); retrying in {retry_seconds:g} s")
            raise dg.RetryRequested(max_retries=RETRIES, seconds_to_wait=retry_seconds) from exc
        outcome = run.outcome(suite)
        scope = "; ".join(line.split(": ", 1)[1] for line in run.scope_lines())  # raw suites only
        if scope:
            context.log.info(f"{suite}: {scope}")
        for line in run.failures():
            context.log.warning(line)
        common = {
            "dq_run_id": run.run_id,
            "as_of": str(run.as_of),
            "data_docs": str(run.docs_index),
            "mode": run.mode,
            **({"rows_checked": scope} if scope else {}),
        }
        blocking = [r for r in outcome.rows if r.blocking]
        warnings = [r for r in outcome.rows if not r.blocking]
        # A raw suite's failure is gated by the dbt exclusion and the matcher (module docstring):
        # with ERROR the failed step would stop the whole dbt build behind the gate.
        raw = asset_key[0] == "raw"
        main_severity = dg.AssetCheckSeverity.WARN if raw else dg.AssetCheckSeverity.ERROR
        results = [(key, main_name, blocking, main_severity)]
        results.append((key, WARNINGS, warnings, dg.AssetCheckSeverity.WARN))
        results += [(g, BLOCKING, blocking, dg.AssetCheckSeverity.ERROR) for g in guarded]
        for asset, name, rows, severity in results:
            failed = [r for r in rows if not r.passed]
            yield dg.AssetCheckResult(
                asset_key=asset,
                check_name=name,
                passed=not failed,
                severity=severity,
                description="; ".join(r.message for r in failed)
                or f"{len(rows)} expectations passed" + (f" on {scope}" if scope else ""),
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


def raw_check_outcomes(context: dg.OpExecutionContext) -> dict[str, bool]:
    """Raw table → whether its ``gx_blocking`` check passed, for the checks of *this* run only.

    Read from the run's own event log, so an earlier night's stored result never decides for
    tonight; tables whose suite did not run in this run are absent.
    """
    records = context.instance.get_records_for_run(
        run_id=context.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    outcomes: dict[str, bool] = {}
    for record in records:
        event = record.event_log_entry.dagster_event
        evaluation = event.event_specific_data if event else None
        if (
            isinstance(evaluation, dg.AssetCheckEvaluation)
            and evaluation.check_name == BLOCKING
            and evaluation.asset_key.path[0] == "raw"
        ):
            table = evaluation.asset_key.path[-1]
            outcomes[table] = outcomes.get(table, True) and evaluation.passed
    return outcomes
