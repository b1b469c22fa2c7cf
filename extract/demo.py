"""The extraction step of `cww demo`: the real nightly scenario on the simulated source.

Full extract → the simulator lives one more day → incremental extract → reconcile. Returns the
lines to print, so the demo shows what a nightly run costs compared with the first load.
"""

from __future__ import annotations

from cww.errors import CwwError
from cww.settings import Settings
from extract.api import reconcile, run_extract
from extract.summary import ExtractSummary


def _line(label: str, s: ExtractSummary) -> str:
    t = s.totals()
    return (
        f"{label}: batch {s.batch_id}, {int(t['rows_read']):,} rows read, +{int(t['inserted']):,} "
        f"~{int(t['updated']):,} soft-deleted {int(t['soft_deleted']):,} hard-deleted {int(t['deleted']):,} "
        f"rejected {int(t['rejected']):,}, {t['mb']:.1f} MB in {t['seconds']:.1f} s"
    )


def demo_step(settings: Settings, days: int = 1) -> list[str]:
    """Run the four stages; raise CwwError if a table failed or reconcile finds a difference."""
    from simulator.api import advance

    # The demo rebuilds its source every time: a full refresh makes the warehouse follow it exactly.
    full = run_extract(settings, full_refresh=True)
    lines = [_line("first extract", full)]
    sim = advance(settings, days)
    lines.append(f"simulator advanced {days} day(s): clock {sim.clock}")
    inc = run_extract(settings)
    lines.append(_line("incremental extract", inc))
    for summary in (full, inc):
        if not summary.ok:
            raise CwwError("extract failed: " + "; ".join(r.error or r.table for r in summary.failed))
    report = reconcile(settings)
    if not report.ok:
        raise CwwError(
            "reconcile found differences: " + "; ".join(d.describe() for d in report.tables if not d.ok)
        )
    rejected = sum(len(d.rejected) for d in report.tables)
    lines.append(
        f"reconcile: {len(report.tables)} tables match the source exactly"
        + (f" ({rejected} rejected rows accounted for)" if rejected else "")
    )
    return lines
