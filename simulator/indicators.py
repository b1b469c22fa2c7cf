"""Does the simulated province look like Ontario? Plain SQL over the source, no warehouse needed.

Used by the benchmark and by anyone tuning `simulator.model`: it measures the published figures
INDICATORS.md lists (days of care by placement type, time to permanency, recurrence) plus the
scale targets of the issue (children in care on an average day, investigations a year). These are
sanity checks of the simulator's defaults, not the warehouse's indicator definitions (dbt owns
those, with all the exclusions).
"""

from __future__ import annotations

from typing import Any

import psycopg

# Placement types by the Ontario days-of-care categories. Customary care is excluded from the
# total; trial home visits and runaways are not placements; respite happens in foster homes.
FAMILY = ("FOS", "KIN", "PAD", "RES")
GROUP = ("GH", "OPR")
OTHER = ("IL", "HOS", "MHC", "YJ")

PUBLISHED = {
    "days_family_pct": 79.0,
    "days_group_pct": 13.0,
    "days_other_pct": 8.0,
    "discharged_12m_pct": 62.0,
    "discharged_24m_pct": 77.0,
    "discharged_36m_pct": 85.0,
    "no_recurrence_12m_pct": 85.0,
}


def measure(conn: psycopg.Connection) -> dict[str, Any]:
    clock, hist_start = conn.execute(
        "select s.clock, (select min(joined_on) from cpin.agency) from sim.state s"
    ).fetchone()  # type: ignore[misc]
    out: dict[str, Any] = {"clock": clock, "history_from": hist_start}
    # Days of care in the last 365 days, by category.
    rows = conn.execute(
        """select placement_type_code,
                  sum(least(coalesce(end_date, %(c)s::date + 1), %(c)s::date + 1)
                      - greatest(start_date, %(c)s::date - 364))
             from cpin.placement
            where not is_deleted and start_date <= %(c)s
              and coalesce(end_date, %(c)s::date + 1) > %(c)s::date - 364
            group by 1""",
        {"c": clock},
    ).fetchall()
    days = {t: int(n) for t, n in rows}
    total = sum(days.get(t, 0) for t in FAMILY + GROUP + OTHER) or 1
    for name, types in (("family", FAMILY), ("group", GROUP), ("other", OTHER)):
        out[f"days_{name}_pct"] = round(100 * sum(days.get(t, 0) for t in types) / total, 1)
    out["children_in_care_avg_day"] = round(sum(days.values()) / 365)
    out["investigations_last_year"] = conn.execute(
        "select count(*) from cpin.investigation where not is_deleted and opened_on > %s::date - 365",
        (clock,),
    ).fetchone()[0]  # type: ignore[index]
    # Time to discharge (any exit), admissions since the history began with enough follow-up.
    for months in (12, 24, 36):
        n, done = conn.execute(
            """select count(*), count(*) filter (where closed_on is not null
                                 and closed_on <= opened_on + make_interval(months => %(m)s))
                 from cpin."case"
                where case_type_code = 'CIC' and not is_deleted and opened_on >= %(h)s
                  and opened_on <= %(c)s::date - make_interval(months => %(m)s)""",
            {"m": months, "h": hist_start, "c": clock},
        ).fetchone()  # type: ignore[misc]
        out[f"discharged_{months}m_pct"] = round(100 * done / n, 1) if n else None
        out[f"discharged_{months}m_cohort"] = n
    # Families whose investigation closed 12–24 months ago without ongoing services, and no new
    # verified investigation for the same caregiver within 12 months.
    n, clean = conn.execute(
        """with closed as (
             select distinct on (r.primary_person_id) r.primary_person_id as person_id, i.closed_on
               from cpin.investigation i join cpin.referral r using (referral_id)
              where not i.is_deleted and i.ongoing_services = false
                and i.closed_on > %(c)s::date - 730 and i.closed_on <= %(c)s::date - 365
              order by r.primary_person_id, i.closed_on),
           verified as (
             select r.primary_person_id as person_id, i.opened_on
               from cpin.investigation i join cpin.referral r using (referral_id)
              where not i.is_deleted and i.outcome_code = 'VER' and i.opened_on > %(c)s::date - 730),
           per_family as (
             select c.person_id, bool_or(v.person_id is not null) as recurred
               from closed c left join verified v
                 on v.person_id = c.person_id
                and v.opened_on > c.closed_on and v.opened_on <= c.closed_on + 365
              group by c.person_id)
           select count(*), count(*) filter (where not recurred) from per_family""",
        {"c": clock},
    ).fetchone()  # type: ignore[misc]
    out["no_recurrence_12m_pct"] = round(100 * clean / n, 1) if n else None
    out["no_recurrence_cohort"] = n
    return out


def report_lines(values: dict[str, Any]) -> list[str]:
    lines = []
    for k, v in values.items():
        target = PUBLISHED.get(k)
        lines.append(f"{k}: {v}" + (f" (published: {target})" if target is not None else ""))
    return lines
