{#- Cost per day of care per agency × month × placement type: paid amounts for services in the
    month (every category) divided by the days of care in that month (placement days up to the
    as-of date; THV/RUN/RES days are not placement days). -#}
{{ config(post_hook=["{{ secure_by_agency() }}"], indexes=[{'columns': ['agency_id']}]) }}
with months as (
    select
        p.agency_id,
        p.placement_type_code,
        m::date as service_month,
        least(coalesce(p.end_date, 'infinity'::date), (m + interval '1 month')::date, {{ as_of_date() }} + 1)
            - greatest(p.start_date, m::date) as days
    from {{ ref('int_placements_sequenced') }} as p
    cross join lateral generate_series(
        date_trunc('month', p.start_date),
        date_trunc('month', least(coalesce(p.end_date - 1, {{ as_of_date() }}), {{ as_of_date() }})),
        interval '1 month'
    ) as m
    where p.is_placement and p.start_date <= {{ as_of_date() }}
),

days as (
    select agency_id, placement_type_code, service_month, sum(days) as days_of_care
    from months
    where days > 0
    group by 1, 2, 3
),

paid as (
    select agency_id, placement_type_code, service_month, sum(amount) as amount_paid
    from {{ ref('fct_payments') }}
    where payment_status_code = 'PAID'
    group by 1, 2, 3
)

select
    coalesce(d.agency_id, p.agency_id) as agency_id,
    coalesce(d.service_month, p.service_month) as service_month,
    {{ fiscal_year('coalesce(d.service_month, p.service_month)') }} as fiscal_year,
    coalesce(d.placement_type_code, p.placement_type_code) as placement_type_code,
    t.placement_type_label as placement_type,
    coalesce(d.days_of_care, 0)::bigint as days_of_care,
    coalesce(p.amount_paid, 0) as amount_paid,
    case when d.days_of_care > 0 then round(coalesce(p.amount_paid, 0) / d.days_of_care, 2) end as cost_per_day
from days as d
full outer join paid as p
    on p.agency_id = d.agency_id
   and p.placement_type_code = d.placement_type_code
   and p.service_month = d.service_month
left join {{ ref('placement_types') }} as t
    on t.placement_type_code = coalesce(d.placement_type_code, p.placement_type_code)
