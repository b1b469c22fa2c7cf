"""Schedules and the period a run covers, in America/Toronto.

A report's cron (5 fields, Toronto time) defines windows: the dates from one tick to the next. A
run is identified by the window's first date (its *period*), exactly like Dagster's time-window
partitions built from the same cron — so `cww report run X --date D` and the Dagster partition D
are the same delivery in the log. A daily 06:00 report for period 2026-11-03 covers 11-03 and is
sent at 06:00 on 11-04; a monthly one for 2026-10-01 covers October and is sent on 1 November.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

TZ = ZoneInfo("America/Toronto")


def validate_cron(expr: str) -> None:
    """Raise ValueError naming what is wrong with a 5-field cron expression."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(
            f"schedule {expr!r} must have 5 fields (minute hour day-of-month month day-of-week), "
            f"not {len(fields)}"
        )
    if not croniter.is_valid(expr):
        raise ValueError(f"schedule {expr!r} is not a valid cron expression")


@dataclass(frozen=True)
class Window:
    """The dates a run covers: ``start <= d < end``; ``start`` is the period label."""

    start: date
    end: date

    @property
    def period(self) -> str:
        return self.start.isoformat()


def window_for(expr: str, day: date) -> Window:
    """The window containing ``day``: from the last tick on or before it to the next tick after it."""
    next_midnight = datetime.combine(day + timedelta(days=1), time(0, 0), TZ)
    start = croniter(expr, next_midnight).get_prev(datetime).date()
    end = croniter(expr, next_midnight - timedelta(seconds=1)).get_next(datetime).date()
    return Window(start, end)


def last_complete_window(expr: str, as_of: date) -> Window:
    """The latest window whose last day is on or before ``as_of`` (data through as_of exist)."""
    w = window_for(expr, as_of)
    if w.end - timedelta(days=1) <= as_of:
        return w
    return window_for(expr, w.start - timedelta(days=1))


def today_toronto() -> date:
    return datetime.now(TZ).date()
