"""The nightly schedule: 02:00 in Toronto (the agencies' time zone), DST handled by Dagster."""

from __future__ import annotations

import dagster as dg

from dagster_project.jobs import nightly_job

nightly_schedule = dg.ScheduleDefinition(
    name="nightly_0200_toronto",
    job=nightly_job,
    cron_schedule="0 2 * * *",
    execution_timezone="America/Toronto",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Runs the nightly job at 02:00 America/Toronto.",
)

defs = dg.Definitions(schedules=[nightly_schedule])
