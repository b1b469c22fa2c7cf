{#- Every INDICATORS.md indicator per fiscal year, per agency and for the province (agency_id
    null), long format: numerator, denominator, value = numerator × multiplier ÷ denominator.
    observation_complete: the follow-up window of the whole cohort has passed by the as-of date
    (recent years are provisional). Row-level security: an agency sees its rows and the
    province's. -#}
{{ config(post_hook=["{{ secure_by_agency(allow_province=true) }}"], indexes=[{'columns': ['agency_id']}]) }}

with contributions as (
    select 'permanency_12m' as indicator_code, fiscal_year, agency_id,
           count(*) filter (where achieved_permanency)::numeric as numerator, count(*)::numeric as denominator
    from {{ ref('fct_indicator_permanency_12m') }}
    group by grouping sets ((fiscal_year, agency_id), (fiscal_year))

    union all
    select 'reentry_12m', fiscal_year, agency_id,
           count(*) filter (where re_entered), count(*)
    from {{ ref('fct_indicator_reentry_12m') }}
    group by grouping sets ((fiscal_year, agency_id), (fiscal_year))

    union all
    select 'placement_stability', fiscal_year, agency_id, sum(moves), sum(days_in_care)
    from {{ ref('fct_indicator_placement_stability') }}
    group by grouping sets ((fiscal_year, agency_id), (fiscal_year))

    union all
    select 'no_recurrence_12m', fiscal_year, agency_id,
           count(*) filter (where not recurred), count(*)
    from {{ ref('fct_indicator_recurrence_12m') }}
    group by grouping sets ((fiscal_year, agency_id), (fiscal_year))

    union all
    select 'days_of_care_' || translate(g.grp, ' -', '__'), d.fiscal_year, d.agency_id,
           sum(d.days_of_care) filter (where d.days_of_care_group = g.grp),
           sum(d.days_of_care) filter (where d.days_of_care_group <> 'customary')
    from {{ ref('fct_indicator_days_of_care') }} as d
    cross join (values ('family-based'), ('group care'), ('other')) as g (grp)
    group by grouping sets ((g.grp, d.fiscal_year, d.agency_id), (g.grp, d.fiscal_year))

    union all
    select 'discharged_within_' || m.months || 'm', t.fiscal_year, t.agency_id,
           count(*) filter (where case m.months when 12 then t.discharged_within_12m
                                                when 24 then t.discharged_within_24m
                                                else t.discharged_within_36m end),
           count(*)
    from {{ ref('fct_indicator_time_to_discharge') }} as t
    cross join (values (12), (24), (36)) as m (months)
    group by grouping sets ((m.months, t.fiscal_year, t.agency_id), (m.months, t.fiscal_year))
)

select
    c.indicator_code,
    d.indicator_number::int as indicator_number,
    d.indicator_name,
    c.fiscal_year,
    fy.fiscal_year_label,
    fy.period_start,
    fy.period_end,
    case when c.agency_id is null then 'province' else 'agency' end as geography_level,
    c.agency_id::smallint as agency_id,
    coalesce(a.agency_code, 'ONTARIO') as geography_code,
    coalesce(c.numerator, 0) as numerator,
    coalesce(c.denominator, 0) as denominator,
    case when c.denominator > 0
        then round(coalesce(c.numerator, 0) * d.multiplier / c.denominator, 2)
    end as value,
    d.unit,
    d.higher_is_better,
    (fy.period_end + make_interval(months => d.observation_months::int))::date <= {{ as_of_date() }}
        as observation_complete
from contributions as c
inner join {{ ref('indicator_definitions') }} as d on d.indicator_code = c.indicator_code
inner join {{ ref('int_fiscal_years_listed') }} as fy on fy.fiscal_year = c.fiscal_year
left join {{ ref('dim_agency') }} as a on a.agency_id = c.agency_id
