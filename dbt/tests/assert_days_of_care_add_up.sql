-- The daily fact and the placements agree: for each child, the days in fct_children_in_care_daily
-- over the tested window equal the placement days computed by interval arithmetic from
-- fct_placements over the same window (THV/RUN/RES days included: the child is in care).
-- The window: all history in a full build; the trailing days in the nightly one (test_scope.sql).
{% set nightly = var('test_rows_after_batch', none) is not none %}
with bounds as (
    select
        {% if nightly %}{{ as_of_date() }} - {{ var('daily_test_window_days') }} + 1{% else %}'0001-01-01'::date{% endif %}
            as from_date,
        {{ as_of_date() }} + 1 as to_date
),

from_placements as (
    select p.child_id,
           sum(greatest(least(coalesce(p.end_date, 'infinity'::date), b.to_date)
                        - greatest(p.start_date, b.from_date), 0)) as days
    from {{ ref('fct_placements') }} as p
    cross join bounds as b
    group by p.child_id
),

from_daily as (
    select d.child_id, count(*) as days
    from {{ ref('fct_children_in_care_daily') }} as d
    cross join bounds as b
    where d.care_date >= b.from_date and d.care_date < b.to_date
    group by d.child_id
)

select coalesce(p.child_id, d.child_id) as child_id, p.days as placement_days, d.days as daily_rows
from from_placements as p
full outer join from_daily as d on d.child_id = p.child_id
where coalesce(p.days, 0) <> coalesce(d.days, 0)
