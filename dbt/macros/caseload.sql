{#- The columns of fct_caseload_daily, in order. -#}
{% macro caseload_daily_columns() -%}
    {{ return(['activity_date', 'worker_id', 'worker_name', 'worker_role_code', 'supervisor_id',
               'supervisor_name', 'agency_id', 'office_id', 'open_cases', 'children_in_care',
               'new_referrals', 'overdue_investigations']) }}
{%- endmacro %}

{#- Where fct_caseload_daily keeps its inputs between builds (see caseload_inputs). -#}
{% macro caseload_inputs_table() -%}private.caseload_inputs{%- endmacro %}

{#- What a worker's caseload rows are computed from: per worker and day, the change of each level
    (+1 when an open case, a child in care on one of their cases, or an overdue investigation
    starts, −1 when it ends) and the referrals taken at intake. A worker's rows up to a day depend
    only on these inputs up to that day (and the worker's own row), which is what lets the nightly
    build find the first day that changed (macros/incremental.sql). Only the workers in `workers`
    (a relation of worker_id) when given. -#}
{% macro caseload_inputs(workers=none) -%}
{%- set only = ' in (select worker_id from ' ~ workers ~ ')' if workers else ' is not null' -%}
with primary_assignments as (
    -- The part of each primary assignment during which the case is open.
    select
        a.worker_id,
        a.case_id,
        greatest(a.start_date, c.opened_on) as starts_on,
        least(coalesce(a.end_date, 'infinity'::date), coalesce(c.closed_on, 'infinity'::date)) as ends_on
    from {{ ref('stg_cpin__worker_assignments') }} as a
    inner join {{ ref('stg_cpin__cases') }} as c on c.case_id = a.case_id
    where a.assignment_role_code = 'PRI' and a.worker_id{{ only }}
),

intervals as (
    select worker_id, 'open_cases' as measure, starts_on, ends_on
    from primary_assignments

    union all
    -- Children in care on a case while the worker is its primary worker.
    select a.worker_id, 'children_in_care', greatest(a.starts_on, p.start_date),
           least(a.ends_on, coalesce(p.end_date, 'infinity'::date))
    from primary_assignments as a
    inner join {{ ref('stg_cpin__placements') }} as p on p.case_id = a.case_id

    union all
    -- Investigations still open after their due date: overdue from the day after due_on.
    select worker_id, 'overdue_investigations', due_on + 1, coalesce(closed_on, 'infinity'::date)
    from {{ ref('stg_cpin__investigations') }}
    where worker_id{{ only }}
),

events as (
    select worker_id, starts_on as event_date, measure, 1 as delta
    from intervals where ends_on > starts_on
    union all
    select worker_id, ends_on, measure, -1
    from intervals where ends_on > starts_on and ends_on < 'infinity'::date
),

daily_changes as (
    select
        worker_id,
        event_date,
        coalesce(sum(delta) filter (where measure = 'open_cases'), 0) as d_open,
        coalesce(sum(delta) filter (where measure = 'children_in_care'), 0) as d_cic,
        coalesce(sum(delta) filter (where measure = 'overdue_investigations'), 0) as d_overdue
    from events
    group by worker_id, event_date
),

referrals as (
    select intake_worker_id as worker_id, received_on as event_date, count(*) as new_referrals
    from {{ ref('stg_cpin__referrals') }}
    where intake_worker_id{{ only }}
    group by 1, 2
)

select
    coalesce(c.worker_id, r.worker_id) as worker_id,
    coalesce(c.event_date, r.event_date) as event_date,
    c.d_open,
    c.d_cic,
    c.d_overdue,
    r.new_referrals
from daily_changes as c
full outer join referrals as r on r.worker_id = c.worker_id and r.event_date = c.event_date
{%- endmacro %}

{#- Caseload rows per worker per day from the stored inputs (caseload_inputs_table), from
    default_from (or the worker's from_date in `from_dates`, a relation of worker_id, from_date,
    when earlier) up to to_date. Levels are running sums of the changes, spread over the days
    each level holds, so the cost follows the number of changes, not cases × days. -#}
{% macro caseload_daily_rows(default_from, to_date, from_dates=none) -%}
with inputs as (
    select
        i.*,
        {% if from_dates -%}
        least(coalesce(f.from_date, 'infinity'::date), {{ default_from }})
        {%- else -%}
        {{ default_from }}
        {%- endif %} as from_date,
        {{ to_date }} as to_date
    from {{ caseload_inputs_table() }} as i
    {% if from_dates -%}
    left join {{ from_dates }} as f on f.worker_id = i.worker_id
    {%- endif %}
),

-- Days before a worker's from_date are not wanted: their changes only matter through their sum,
-- so they collapse into one change on from_date (nightly, nearly all of a worker's history).
changes as (
    select
        worker_id,
        greatest(event_date, from_date) as event_date,
        from_date,
        to_date,
        sum(d_open) as d_open,
        sum(d_cic) as d_cic,
        sum(d_overdue) as d_overdue
    from inputs
    where d_open is not null
    group by worker_id, greatest(event_date, from_date), from_date, to_date
),

levels as (
    select
        worker_id,
        from_date,
        to_date,
        event_date as valid_from,
        coalesce(lead(event_date) over w, 'infinity'::date) as valid_to,
        sum(d_open) over w as open_cases,
        sum(d_cic) over w as children_in_care,
        sum(d_overdue) over w as overdue_investigations
    from changes
    window w as (partition by worker_id order by event_date)
),

level_days as (
    select l.worker_id, d::date as activity_date, l.open_cases, l.children_in_care, l.overdue_investigations
    from levels as l
    cross join lateral generate_series(
        greatest(l.valid_from, l.from_date), least(l.valid_to - 1, l.to_date), interval '1 day'
    ) as d
    where (l.open_cases <> 0 or l.children_in_care <> 0 or l.overdue_investigations <> 0)
      and l.valid_to > l.from_date and l.valid_from <= l.to_date
),

referrals as (
    select worker_id, event_date as activity_date, new_referrals
    from inputs
    where new_referrals is not null and event_date between from_date and to_date
),

combined as (
    select
        coalesce(l.worker_id, r.worker_id) as worker_id,
        coalesce(l.activity_date, r.activity_date) as activity_date,
        coalesce(l.open_cases, 0) as open_cases,
        coalesce(l.children_in_care, 0) as children_in_care,
        coalesce(r.new_referrals, 0) as new_referrals,
        coalesce(l.overdue_investigations, 0) as overdue_investigations
    from level_days as l
    full outer join referrals as r on r.worker_id = l.worker_id and r.activity_date = l.activity_date
)

select
    c.activity_date,
    c.worker_id,
    w.worker_name,
    w.worker_role_code,
    w.supervisor_id,
    s.worker_name as supervisor_name,
    w.agency_id,
    w.office_id,
    c.open_cases::int as open_cases,
    c.children_in_care::int as children_in_care,
    c.new_referrals::int as new_referrals,
    c.overdue_investigations::int as overdue_investigations
from combined as c
inner join {{ ref('stg_cpin__workers') }} as w on w.worker_id = c.worker_id
left join {{ ref('stg_cpin__workers') }} as s on s.worker_id = w.supervisor_id
{%- endmacro %}
