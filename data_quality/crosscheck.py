"""An independent second opinion on the marts: recompute from the SOURCE with plain SQL.

dbt builds ``marts.children_in_care_current`` ("where are my kids") and ``marts.fct_indicators``
through staging → intermediate → marts. If a model, an incremental merge or the extraction
drifts, the marts can be wrong while every dbt test still passes (the tests read the same models).
This module reads the operational source (``cpin``) directly — not ``raw``, not a dbt model — and
recomputes:

* per agency, every child in care on the as-of date with their current placement (placement id,
  provider, type) and master person, compared with the mart both ways (missing, extra, differing);
* every INDICATORS.md indicator per fiscal year, per agency and for the province (numerator and
  denominator), compared with ``marts.fct_indicators``.

The definitions follow INDICATORS.md with the choices documented in
``dbt/models/marts/indicators/_indicators.yml`` (written out again here on purpose, from the
document, so a change on one side shows up as a difference). **Tolerance: none** — numerators and
denominators are counts and sums of days, compared exactly; the mart's ``value`` must equal
``round(numerator × multiplier ÷ denominator, 2)``.

Two inputs come from the warehouse because they are not dbt's to compute: the duplicate matcher's
``data_quality.master_person`` (re-entry and recurrence follow the child's / caregiver's master
person across agencies) and ``extract_meta.rejected_rows`` — source rows the extractor refused by
rule, which by design never reach the marts (excluded unless ``exclude_rejected=False``).

Read-only on both databases (one REPEATABLE READ, READ ONLY transaction on the source).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import psycopg

from cww.postgres import Server, resolve_server
from cww.settings import Settings

# Codes, from INDICATORS.md and schema.sql (not from dbt's seeds, to stay independent).
DISCHARGE_REASONS = ("REU", "KIN", "CUS", "ADO", "AGE", "TRF", "RUN", "DTH")
PERMANENCY_REASONS = ("REU", "KIN", "CUS", "ADO")
REENTRY_ELIGIBLE_REASONS = ("REU", "KIN", "CUS")  # not adoption
NOT_PLACEMENTS = ("THV", "RUN", "RES")  # trial home visit, runaway, respite
FAMILY_BASED = ("FOS", "KIN", "PAD")
GROUP_CARE = ("GH", "OPR")
CUSTOMARY = ("CUS",)
# Everything else (IL, HOS, MHC, YJ, an unknown code) is "other".

MULTIPLIER = {
    "permanency_12m": 100,
    "reentry_12m": 100,
    "placement_stability": 1000,
    "no_recurrence_12m": 100,
    "days_of_care_family_based": 100,
    "days_of_care_group_care": 100,
    "days_of_care_other": 100,
    "discharged_within_12m": 100,
    "discharged_within_24m": 100,
    "discharged_within_36m": 100,
}

# Tables whose newest updated_at dates the warehouse (dbt's int_as_of_date uses the same list).
DATED_TABLES = (
    "agency", "office", "worker", "person", "person_address", "person_relationship", "case",
    "case_participant", "worker_assignment", "referral", "investigation", "legal_status",
    "provider", "placement", "payment", "contact_note",
)  # fmt: skip


@dataclass(frozen=True)
class Difference:
    """One disagreement: which check, which row, what the source says, what the mart says."""

    check: str  # "as_of" | "kids: missing in mart" | "kids: extra in mart" | "kids: differs" | "indicator"
    key: str
    source: str
    mart: str

    def line(self) -> str:
        return f"{self.check} {self.key}: source {self.source} / mart {self.mart}"


@dataclass
class CrosscheckResult:
    """The outcome: counts compared and every difference (empty = the marts agree with the source)."""

    as_of: date
    mart_as_of: date | None
    kids_source: int = 0
    kids_mart: int = 0
    kids_per_agency: dict[str, int] = field(default_factory=dict)
    indicator_rows: int = 0
    excluded_rejected: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    def lines(self, limit: int = 20) -> list[str]:
        head = (
            f"as of {self.as_of}: children in care {self.kids_source} (source) / {self.kids_mart} (mart); "
            f"{self.indicator_rows} indicator rows compared; {self.excluded_rejected} rejected source rows "
            f"left out; {len(self.differences)} difference(s)"
        )
        out = [head]
        out += [d.line() for d in self.differences[:limit]]
        if len(self.differences) > limit:
            out.append(f"… and {len(self.differences) - limit} more")
        return out


def _in(codes: Iterable[str]) -> str:
    return "(" + ", ".join(f"'{c}'" for c in codes) + ")"


# Shared CTEs: the source's live rows (rejected ones left out), master persons, episodes.
# An episode is a live CIC case with at least one live placement: entry = first placement's
# start; exit = the last placement's end when it ended in a discharge, else the case's closure
# once no placement is open; the child is the last placement's person (who must be live).
_BASE = f"""
with merged as (
    select * from unnest(%(pids)s::bigint[], %(mids)s::bigint[]) as m (person_id, master_id)
),
live_person as (
    select p.person_id, p.birth_date, coalesce(m.master_id, p.person_id) as master_id
    from cpin.person as p left join merged as m using (person_id)
    where not p.is_deleted and p.person_id <> all(%(x_person)s::bigint[])
),
live_placement as (
    select pl.placement_id, pl.person_id, pl.agency_id, pl.case_id, pl.provider_id,
           pl.placement_type_code as type_code, pl.start_date, pl.end_date, pl.end_reason_code,
           pl.placement_type_code not in {_in(NOT_PLACEMENTS)} as counts_as_placement,
           case when pl.placement_type_code in {_in(FAMILY_BASED)} then 'family-based'
                when pl.placement_type_code in {_in(GROUP_CARE)} then 'group care'
                when pl.placement_type_code in {_in(CUSTOMARY)} then 'customary'
                else 'other' end as care_group
    from cpin.placement as pl
    where not pl.is_deleted and pl.placement_id <> all(%(x_placement)s::bigint[])
),
cic as (
    select c.case_id, c.agency_id, c.closed_on, c.close_reason_code
    from cpin."case" as c
    where c.case_type_code = 'CIC' and not c.is_deleted and c.case_id <> all(%(x_case)s::bigint[])
),
placement_ranked as (
    select pl.*,
           min(pl.start_date) over per_case as entry_date,
           bool_or(pl.end_date is null) over per_case as any_open,
           row_number() over (partition by pl.case_id order by pl.start_date desc, pl.placement_id desc)
               as from_last
    from live_placement as pl
    window per_case as (partition by pl.case_id)
),
ep0 as (
    select c.case_id as episode_id, c.agency_id, c.closed_on, c.close_reason_code,
           lst.entry_date, lst.any_open, lst.person_id as child_id, lst.type_code as last_type,
           lst.start_date as last_start, lst.end_date as last_end,
           lst.end_reason_code in {_in(DISCHARGE_REASONS)} and lst.end_date is not null as last_discharges,
           lst.end_reason_code as last_reason
    from cic as c join placement_ranked as lst on lst.case_id = c.case_id and lst.from_last = 1
),
ep1 as (
    select e.*, p.master_id, p.birth_date,
           case when e.last_discharges then e.last_end when not e.any_open then e.closed_on end as exit_date,
           case when e.last_discharges then e.last_reason
                when not e.any_open and e.closed_on is not null then e.close_reason_code end as reason
    from ep0 as e join live_person as p on p.person_id = e.child_id
),
episode as (
    select e.*,
           (e.birth_date + interval '18 years')::date as turns_18,
           date_part('year', age(e.entry_date, e.birth_date)) as age_entry,
           date_part('year', age(e.exit_date, e.birth_date)) as age_exit,
           case when e.reason = 'REU' and e.last_type = 'THV' and e.exit_date - e.last_start > 30
                then e.last_start + 30 else e.exit_date end as perm_exit,
           lead(e.entry_date) over (partition by e.master_id order by e.entry_date, e.episode_id)
               as next_entry
    from ep1 as e
),
fy as (
    select y as fiscal_year, make_date(y, 4, 1) as p_start, make_date(y + 1, 3, 31) as p_end
    from generate_series(
        (select date_part('year', min(entry_date) - interval '3 months')::int from episode),
        date_part('year', %(as_of)s::date - interval '3 months')::int) as y
)
"""

_KIDS = (
    _BASE
    + """
select distinct on (pl.person_id)
       pl.person_id, pl.agency_id, e.master_id, pl.placement_id, pl.provider_id, pl.type_code
from live_placement as pl join episode as e on e.episode_id = pl.case_id
where pl.start_date <= %(as_of)s and (pl.end_date is null or pl.end_date > %(as_of)s)
order by pl.person_id, pl.start_date desc, pl.placement_id desc
"""
)

# Long format like the mart: (indicator_code, fiscal_year, agency_id or null, numerator, denominator).
_INDICATORS = (
    _BASE
    + f"""
, cohort as (   -- INDICATORS.md 1–3: first qualifying entry per child (master person) and year
    select distinct on (f.fiscal_year, e.master_id) f.fiscal_year, f.p_end, e.*
    from episode as e join fy as f on e.entry_date >= f.p_start and e.entry_date <= f.p_end
    where not (e.exit_date is not null and e.exit_date - e.entry_date < 8)  -- open: not a short stay
      and (e.age_entry is null or e.age_entry < 18)
    order by f.fiscal_year, e.master_id, e.entry_date, e.episode_id
),
ind1 as (
    select fiscal_year, agency_id,
           (reason in {_in(PERMANENCY_REASONS)} and perm_exit <= %(as_of)s
            and perm_exit < (entry_date + interval '12 months')::date
            and (turns_18 is null or perm_exit < turns_18))::int as hit, 1 as n
    from cohort
),
ind2 as (
    select fiscal_year, agency_id,
           (next_entry is not null and next_entry <= %(as_of)s
            and next_entry < (exit_date + interval '12 months')::date)::int as hit, 1 as n
    from cohort
    where reason in {_in(REENTRY_ELIGIBLE_REASONS)} and exit_date <= %(as_of)s
      and exit_date < (entry_date + interval '12 months')::date and (age_exit is null or age_exit < 18)
),
stab as (
    select c.*, least(coalesce(c.exit_date, 'infinity'::date), c.p_end + 1,
                      coalesce(c.turns_18, 'infinity'::date), %(as_of)s::date + 1) as until
    from cohort as c
),
real_seq as (
    select pl.case_id, pl.start_date, pl.provider_id,
           row_number() over w as n, lag(pl.provider_id) over w as prev_provider
    from live_placement as pl join episode as e on e.episode_id = pl.case_id
    where pl.counts_as_placement
    window w as (partition by pl.case_id order by pl.start_date, pl.placement_id)
),
moves as (
    select s.fiscal_year, s.episode_id, count(*) as moves
    from stab as s join real_seq as r on r.case_id = s.episode_id
    where r.n > 1 and r.prev_provider is distinct from r.provider_id
      and r.start_date >= s.entry_date and r.start_date < s.until
    group by 1, 2
),
ind3 as (
    select s.fiscal_year, s.agency_id, coalesce(m.moves, 0) as hit, greatest(s.until - s.entry_date, 0) as n
    from stab as s left join moves as m on m.fiscal_year = s.fiscal_year and m.episode_id = s.episode_id
),
inv as (
    select i.investigation_id, i.agency_id, i.case_id, i.opened_on, i.closed_on, i.outcome_code,
           i.ongoing_services, cg.master_id as caregiver
    from cpin.investigation as i
    left join cpin.referral as r on r.referral_id = i.referral_id and not r.is_deleted
    left join live_person as cg on cg.person_id = r.primary_person_id
    where not i.is_deleted
),
closure as (
    select distinct on (f.fiscal_year, i.case_id) f.fiscal_year, i.*
    from inv as i join fy as f on i.closed_on between f.p_start and f.p_end
    where i.ongoing_services = false and i.closed_on <= %(as_of)s
    order by f.fiscal_year, i.case_id, i.closed_on, i.investigation_id
),
verified as (
    select * from inv where outcome_code = 'VER' and opened_on <= %(as_of)s
),
recurred as (  -- closures followed within 12 months by a verified investigation of the same
                -- family: the same case, or the same caregiver (master person). Joins, not
                -- EXISTS in the select list: that ran once per closure, quadratic at provincial.
    select c.investigation_id
    from closure as c join verified as n on n.case_id = c.case_id
    where n.investigation_id <> c.investigation_id and n.opened_on > c.closed_on
      and n.opened_on < (c.closed_on + interval '12 months')::date
    union
    select c.investigation_id
    from closure as c join verified as n on n.caregiver = c.caregiver
    where n.investigation_id <> c.investigation_id and n.opened_on > c.closed_on
      and n.opened_on < (c.closed_on + interval '12 months')::date
),
ind4 as (
    select c.fiscal_year, c.agency_id, (r.investigation_id is null)::int as hit, 1 as n
    from closure as c left join recurred as r on r.investigation_id = c.investigation_id
),
care_days as (
    select f.fiscal_year, pl.agency_id, pl.care_group,
           sum(least(coalesce(pl.end_date, 'infinity'::date), f.p_end + 1, %(as_of)s::date + 1)
               - greatest(pl.start_date, f.p_start)) as days
    from live_placement as pl
    join episode as e on e.episode_id = pl.case_id
    join fy as f on pl.start_date <= f.p_end and coalesce(pl.end_date, 'infinity'::date) > f.p_start
    where pl.counts_as_placement and pl.start_date <= %(as_of)s
    group by 1, 2, 3
),
ind5 as (
    select 'days_of_care_' || translate(g.grp, ' -', '__') as code, d.fiscal_year, d.agency_id,
           coalesce(sum(d.days) filter (where d.care_group = g.grp), 0) as hit,
           coalesce(sum(d.days) filter (where d.care_group <> 'customary'), 0) as n
    from care_days as d cross join (values ('family-based'), ('group care'), ('other')) as g (grp)
    group by 1, 2, 3
),
ind6 as (
    select 'discharged_within_' || m || 'm' as code, f.fiscal_year, e.agency_id,
           (e.exit_date is not null and e.exit_date <= %(as_of)s
            and e.exit_date < (e.entry_date + make_interval(months => m))::date)::int as hit, 1 as n
    from episode as e join fy as f on e.entry_date between f.p_start and f.p_end
    cross join (values (12), (24), (36)) as mm (m)
),
detail as (
    select 'permanency_12m' as code, fiscal_year, agency_id, hit::numeric, n::numeric from ind1
    union all select 'reentry_12m', fiscal_year, agency_id, hit, n from ind2
    union all select 'placement_stability', fiscal_year, agency_id, hit, n from ind3
    union all select 'no_recurrence_12m', fiscal_year, agency_id, hit, n from ind4
    union all select code, fiscal_year, agency_id, hit, n from ind5
    union all select code, fiscal_year, agency_id, hit, n from ind6
)
select code, fiscal_year, agency_id, sum(hit), sum(n) from detail group by code, fiscal_year, agency_id
union all
select code, fiscal_year, null, sum(hit), sum(n) from detail group by code, fiscal_year
"""
)


def _warehouse_inputs(wh: psycopg.Connection) -> tuple[list[int], list[int], dict[str, list[int]]]:
    """Merged persons (person → master, only where they differ) and rejected source keys."""
    pids: list[int] = []
    mids: list[int] = []
    if wh.execute("select to_regclass('data_quality.master_person')").fetchone() != (None,):
        for pid, mid in wh.execute(
            "select person_id, master_person_id from data_quality.master_person"
            " where master_person_id <> person_id"
        ):
            pids.append(int(pid))
            mids.append(int(mid))
    rejected: dict[str, list[int]] = {"person": [], "placement": [], "case": []}
    if wh.execute("select to_regclass('extract_meta.rejected_rows')").fetchone() != (None,):
        # Still rejected = the source row never landed (a later corrected version would be in raw).
        for table, key_col in (("person", "person_id"), ("placement", "placement_id"), ("case", "case_id")):
            rows = wh.execute(
                f"""select distinct (r.key ->> '{key_col}')::bigint
                    from extract_meta.rejected_rows as r
                    where r.table_name = %s and not exists (
                        select 1 from raw."{table}" as w
                        where w.{key_col} = (r.key ->> '{key_col}')::bigint)""",
                (table,),
            ).fetchall()
            rejected[table] = [int(r[0]) for r in rows]
    return pids, mids, rejected


def source_as_of(src: psycopg.Connection) -> date:
    """The source's "today": the date of its newest updated_at (as dbt dates the warehouse)."""
    parts = " union all ".join(f'select max(updated_at) from cpin."{t}"' for t in DATED_TABLES)
    row = src.execute(f"select max(m)::date from ({parts}) as t (m)").fetchone()
    if row is None or row[0] is None:
        raise ValueError("the source has no dated rows")
    return row[0]


def _num(v: object) -> Decimal:
    return Decimal(str(v)) if v is not None else Decimal(0)


def crosscheck(
    settings: Settings,
    server: Server | None = None,
    *,
    as_of: date | None = None,
    exclude_rejected: bool = True,
) -> CrosscheckResult:
    """Recompute "where are my kids" and the indicators from the source; compare with the marts.

    ``as_of`` defaults to the source's own date (newest ``updated_at``); a mart built for another
    date is reported as an ``as_of`` difference and the comparison uses the source's date.
    """
    server = server or resolve_server(settings)
    with server.connect(settings.warehouse_db) as wh:
        pids, mids, rejected = _warehouse_inputs(wh)
        mart_as_of_row = wh.execute("select max(as_of_date) from marts.children_in_care_current").fetchone()
        mart_kids = {
            int(r[0]): (r[1], r[2], r[3], r[4], r[5], r[6])
            for r in wh.execute(
                """select k.child_id, a.agency_code, k.master_person_id, k.placement_id, k.provider_id,
                          k.placement_type_code, k.agency_id
                   from marts.children_in_care_current as k
                   left join marts.dim_agency as a on a.agency_id = k.agency_id"""
            )
        }
        mart_ind = {
            (r[0], int(r[1]), None if r[2] is None else int(r[2])): (_num(r[3]), _num(r[4]), r[5])
            for r in wh.execute(
                "select indicator_code, fiscal_year, agency_id, numerator, denominator, value"
                " from marts.fct_indicators"
            )
        }
    mart_as_of = mart_as_of_row[0] if mart_as_of_row else None
    params: dict[str, object] = {
        "pids": pids,
        "mids": mids,
        "x_person": rejected["person"] if exclude_rejected else [],
        "x_placement": rejected["placement"] if exclude_rejected else [],
        "x_case": rejected["case"] if exclude_rejected else [],
    }
    with server.connect(settings.source_db, autocommit=False) as src:
        src.execute("set transaction isolation level repeatable read, read only")
        day = as_of or source_as_of(src)
        params["as_of"] = day
        agency_code = {int(a): c for a, c in src.execute("select agency_id, agency_code from cpin.agency")}
        src_kids = {int(r[0]): r[1:] for r in src.execute(_KIDS, params).fetchall()}
        src_ind = {
            (r[0], int(r[1]), None if r[2] is None else int(r[2])): (_num(r[3]), _num(r[4]))
            for r in src.execute(_INDICATORS, params).fetchall()
        }
        src.rollback()

    result = CrosscheckResult(
        as_of=day,
        mart_as_of=mart_as_of,
        kids_source=len(src_kids),
        kids_mart=len(mart_kids),
        indicator_rows=len(src_ind.keys() | mart_ind.keys()),
        excluded_rejected=sum(len(v) for v in rejected.values()) if exclude_rejected else 0,
    )
    diffs = result.differences
    if mart_as_of is not None and mart_as_of != day:
        diffs.append(Difference("as_of", "children_in_care_current", str(day), str(mart_as_of)))
    # (a) where are my kids: by source child id (the mart's child_id is the source person_id).
    for child in sorted(src_kids.keys() | mart_kids.keys()):
        s, m = src_kids.get(child), mart_kids.get(child)
        if s is not None:
            agency, master, placement, provider, type_code = s
            code = agency_code.get(int(agency), str(agency))
            result.kids_per_agency[code] = result.kids_per_agency.get(code, 0) + 1
            want = (code, int(master), int(placement), provider, type_code)
        if m is not None:
            got = (m[0], int(m[1]) if m[1] is not None else None, int(m[2]), m[3], m[4])
        if s is None:
            diffs.append(Difference("kids: extra in mart", f"child {child}", "not in care", _fmt(got)))
        elif m is None:
            diffs.append(Difference("kids: missing in mart", f"child {child}", _fmt(want), "absent"))
        elif want != got:
            diffs.append(Difference("kids: differs", f"child {child}", _fmt(want), _fmt(got)))
    # (b) indicators: exact numerator and denominator; value as the mart's rounding defines it.
    for key in sorted(src_ind.keys() | mart_ind.keys(), key=lambda k: (k[0], k[1], k[2] or -1)):
        code, year, agency = key
        label = f"{code} FY{year} {agency_code.get(agency, 'ONTARIO') if agency else 'ONTARIO'}"
        s_nd = src_ind.get(key)
        m_row = mart_ind.get(key)
        if s_nd is None or m_row is None:
            diffs.append(
                Difference(
                    "indicator",
                    label,
                    "no row" if s_nd is None else f"{s_nd[0]}/{s_nd[1]}",
                    "no row" if m_row is None else f"{m_row[0]}/{m_row[1]}",
                )
            )
            continue
        num, den, value = m_row
        if (num, den) != s_nd:
            diffs.append(Difference("indicator", label, f"{s_nd[0]}/{s_nd[1]}", f"{num}/{den}"))
            continue
        want_value = (
            (s_nd[0] * MULTIPLIER.get(code, 100) / s_nd[1]).quantize(Decimal("0.01"), ROUND_HALF_UP)
            if s_nd[1] > 0
            else None
        )
        if (value is None) != (want_value is None) or (
            value is not None and want_value is not None and Decimal(str(value)) != want_value
        ):
            diffs.append(Difference("indicator value", label, str(want_value), str(value)))
    return result


def _fmt(t: tuple[object, ...]) -> str:
    agency, master, placement, provider, type_code = t
    return f"{agency} master {master} placement {placement} provider {provider} {type_code}"
