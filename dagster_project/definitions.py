"""The Dagster code location: wiring only. Logic lives in the library folders.

Each module under ``assets/`` exposes what it contributes; this file only gathers them.
"""

from __future__ import annotations

import dagster as dg

from dagster_project.assets.reports import defs as reports_defs

defs = dg.Definitions.merge(reports_defs)
