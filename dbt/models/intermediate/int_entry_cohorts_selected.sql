{#- The entry cohort of INDICATORS.md 1–3, per fiscal year: children who entered care in the
    period, excluding stays shorter than 8 days and children 18 or over on the day they entered,
    each child (master person) once: their first qualifying episode in the period.
    Choices (documented in _indicators.yml): an open episode is not a short stay (its length is
    not known yet); a child with no birth date cannot be shown to be 18+ and stays in. -#}
with qualifying as (
    select
        fy.fiscal_year,
        fy.fiscal_year_label,
        fy.period_start,
        fy.period_end,
        e.*
    from {{ ref('int_care_episodes_built') }} as e
    inner join {{ ref('int_fiscal_years_listed') }} as fy
        on e.entry_date between fy.period_start and fy.period_end
    where not e.is_short_stay
      and (e.age_at_entry is null or e.age_at_entry < 18)
)

select distinct on (fiscal_year, master_person_id) *
from qualifying
order by fiscal_year, master_person_id, entry_date, episode_id
