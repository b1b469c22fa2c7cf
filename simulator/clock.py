"""Simulated time as plain integers: days since 1970-01-01 and seconds since the epoch (UTC).

The generator handles tens of millions of dates; integers and cached strings are an order of
magnitude cheaper than `datetime` objects, and they sort and subtract trivially.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

EPOCH = date(1970, 1, 1)
_EPOCH_ORD = EPOCH.toordinal()
DAY = 86_400

_DATE_STR: dict[int, str] = {}


def day_of(d: date) -> int:
    return d.toordinal() - _EPOCH_ORD


def to_date(day: int) -> date:
    return date.fromordinal(day + _EPOCH_ORD)


def dstr(day: int | None) -> str | None:
    """ISO date string of a day number (cached: the same few thousand days recur millions of times)."""
    if day is None:
        return None
    s = _DATE_STR.get(day)
    if s is None:
        s = _DATE_STR[day] = to_date(day).isoformat()
    return s


_TIME_STR = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}+00" for s in range(DAY)]


def tsstr(ts: int) -> str:
    """'YYYY-MM-DD HH:MM:SS+00' of a second since the epoch (both halves from lookup tables)."""
    d, s = divmod(ts, DAY)
    return f"{dstr(d)} {_TIME_STR[s]}"


def to_datetime(ts: int) -> datetime:
    return datetime(1970, 1, 1) + timedelta(seconds=ts)


def add_years(day: int, years: int) -> int:
    """The same calendar date `years` later (29 February -> 1 March)."""
    d = to_date(day)
    try:
        return day_of(d.replace(year=d.year + years))
    except ValueError:
        return day_of(date(d.year + years, 3, 1))


def month_start(day: int) -> int:
    d = to_date(day)
    return day_of(d.replace(day=1))


def next_month_start(day: int) -> int:
    d = to_date(day)
    return day_of(date(d.year + (d.month == 12), d.month % 12 + 1, 1))


def weekday(day: int) -> int:
    """0 = Monday … 6 = Sunday (1970-01-01 was a Thursday)."""
    return (day + 3) % 7


def month_of(day: int) -> int:
    return to_date(day).month
