{#- The columns of fct_caseload_daily, in order (the plan compares stored and recomputed rows). -#}
{% macro caseload_daily_columns() -%}
    {{ return(['activity_date', 'worker_id', 'worker_name', 'worker_role_code', 'supervisor_id',
               'supervisor_name', 'agency_id', 'office_id', 'open_cases', 'children_in_care',
               'new_referrals', 'overdue_investigations']) }}
{%- endmacro %}

{#- Caseload rows per worker per day, from default_from (or the worker's from_date in
    `from_dates`, a relation of worker_id, from_date) up to to_date; only the workers in `workers`
    (a relation of worker_id) when given. Built from change events (+1 when something starts,
    −1 when it ends), summed into levels and spread over the days each level holds, so the cost
    follows the number of changes, not cases × days. Used by fct_caseload_daily and by its
    incremental plan (macros/incremental.sql), so both compute exactly the same rows. -#}
{% macro caseload_daily_rows(default_from, to_date, workers=none, from_dates=none) -%}
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
        sum(delta) filter (where measure = 'open_cases') as d_open,
        sum(delta) filter (where measure = 'children_in_care') as d_cic,
        sum(delta) filter (where measure = 'overdue_investigations') as d_overdue
    from events
    group by worker_id, event_date
),

levels as (
    select
        worker_id,
        event_date as valid_from,
        coalesce(lead(event_date) over w, 'infinity'::date) as valid_to,
        sum(coalesce(d_open, 0)) over w as open_cases,
        sum(coalesce(d_cic, 0)) over w as children_in_care,
        sum(coalesce(d_overdue, 0)) over w as overdue_investigations
    from daily_changes
    window w as (partition by worker_id order by event_date)
),

bounded_levels as (
    select
        l.*,
        {% if from_dates -%}
        least(coalesce(f.from_date, 'infinity'::date), {{ default_from }})
        {%- else -%}
        {{ default_from }}
        {%- endif %} as from_date,
        {{ to_date }} as to_date
    from levels as l
    {% if from_dates -%}
    left join {{ from_dates }} as f on f.worker_id = l.worker_id
    {%- endif %}
    where l.open_cases <> 0 or l.children_in_care <> 0 or l.overdue_investigations <> 0
),

level_days as (
    select l.worker_id, d::date as activity_date, l.open_cases, l.children_in_care, l.overdue_investigations
    from bounded_levels as l
    cross join lateral generate_series(
        greatest(l.valid_from, l.from_date), least(l.valid_to - 1, l.to_date), interval '1 day'
    ) as d
    where l.valid_to > l.from_date and l.valid_from <= l.to_date
),

referrals as (
    select r.intake_worker_id as worker_id, r.received_on as activity_date, count(*) as new_referrals
    from {{ ref('stg_cpin__referrals') }} as r
    {% if from_dates -%}
    left join {{ from_dates }} as f on f.worker_id = r.intake_worker_id
    {%- endif %}
    where r.intake_worker_id{{ only }} and r.received_on <= {{ to_date }}
      and r.received_on >= {% if from_dates -%}
        least(coalesce(f.from_date, 'infinity'::date), {{ default_from }})
        {%- else -%}
        {{ default_from }}
        {%- endif %}
    group by 1, 2
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
