"""The Dagster code location: wiring only. Logic lives in the library folders.

Each module under ``assets/`` exposes what it contributes; this file only gathers them.
"""

from __future__ import annotations

import dagster as dg

defs = dg.Definitions.merge()
