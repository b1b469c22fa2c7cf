"""Run-failure sensor: every failed nightly run is recorded in the warehouse and, when SMTP is
configured (``CWW_ALERT_SMTP_HOST``, ``CWW_ALERT_EMAIL_TO``), e-mailed to the data team.

The logic is ``extract.failures``; this only extracts what failed from Dagster's event.
"""

import dagster as dg

from dagster_project.jobs import nightly_job
from dagster_project.resources import CwwSettingsResource


@dg.run_failure_sensor(
    name="nightly_failure_recorder",
    monitored_jobs=[nightly_job],
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Records failed nightly runs in extract_meta.pipeline_failures and e-mails them.",
)
def nightly_failure_recorder(context: dg.RunFailureSensorContext, cww_settings: CwwSettingsResource) -> None:
    from extract.failures import AlertSettings, email_failure, record_failure

    run = context.dagster_run
    steps = sorted({e.step_key for e in context.get_step_failure_events() if e.step_key})
    error = context.failure_event.message or "run failed"
    for e in context.get_step_failure_events():
        data = e.step_failure_data
        err = data.error if data is not None else None
        while err is not None:  # "Exceeded max_retries" wraps the real cause: keep the chain
            error += f"\n{e.step_key}: {err.message.strip()}"
            err = err.cause
    settings = cww_settings.settings()
    if record_failure(settings, run.run_id, run.job_name, steps, error):
        sent = email_failure(settings, AlertSettings(), run.run_id, run.job_name, steps, error)
        context.log.info(f"failure of run {run.run_id} recorded" + (f", e-mailed to {sent}" if sent else ""))


defs = dg.Definitions(sensors=[nightly_failure_recorder])
