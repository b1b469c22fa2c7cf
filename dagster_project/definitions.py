"""The Dagster code location: wiring only. Logic lives in the library folders.

Each module under ``assets/`` exposes what it contributes; this file only gathers them.
"""

from __future__ import annotations

import dagster as dg

from dagster_project.assets.dashboards import defs as dashboards_defs
from dagster_project.assets.dbt import defs as dbt_defs
from dagster_project.assets.quality import defs as quality_defs
from dagster_project.assets.raw import defs as raw_defs
from dagster_project.assets.reports import defs as reports_defs
from dagster_project.assets.search import defs as search_defs
from dagster_project.jobs import defs as jobs_defs
from dagster_project.resources import defs as resources_defs
from dagster_project.schedules import defs as schedules_defs
from dagster_project.sensors import defs as sensors_defs

defs = dg.Definitions.merge(
    resources_defs,
    raw_defs,
    dbt_defs,
    jobs_defs,
    schedules_defs,
    sensors_defs,
    reports_defs,
    quality_defs,
    search_defs,
    dashboards_defs,
)
