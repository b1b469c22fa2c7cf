{#- INDICATORS.md 5: days of care per fiscal year, agency and placement group (family-based,
    group care, other, customary), up to the as-of date. Trial home visits, runaway and respite
    are not placements and are left out; customary care is kept here and excluded from the total
    in fct_indicators. -#}
select
    fy.fiscal_year,
    p.agency_id,
    p.days_of_care_group,
    sum(
        least(coalesce(p.end_date, 'infinity'::date), fy.period_end + 1, {{ as_of_date() }} + 1)
        - greatest(p.start_date, fy.period_start)
    )::bigint as days_of_care
from {{ ref('int_placements_sequenced') }} as p
inner join {{ ref('int_fiscal_years_listed') }} as fy
    on p.start_date <= fy.period_end
   and coalesce(p.end_date, 'infinity'::date) > fy.period_start
where p.is_placement
  and p.start_date <= {{ as_of_date() }}
group by fy.fiscal_year, p.agency_id, p.days_of_care_group
