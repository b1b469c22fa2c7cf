{#- Caseload per worker per day (supervisors roll up through supervisor_id): open cases carried as
    primary worker, children in care on those cases, new referrals taken at intake, and
    investigations open past their due date. Built from change events (+1 when something starts,
    −1 when it ends), summed into levels and spread over the days each level holds, so the cost
    follows the number of changes, not cases × days. Incremental: the trailing
    var('daily_lookback_days') days are rebuilt each night. Days where a worker has nothing are
    not stored. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='activity_date',
    on_schema_change='fail',
    post_hook=["{{ secure_by_agency() }}"],
    indexes=[{'columns': ['agency_id', 'activity_date']}, {'columns': ['activity_date']}]
) }}

with bounds as (
    select
        {% if is_incremental() -%}
        coalesce((select max(activity_date) from {{ this }}) - {{ var('daily_lookback_days') }}, '0001-01-01'::date)
        {%- else -%}
        '0001-01-01'::date
        {%- endif %} as from_date,
        {{ as_of_date() }} as to_date
),

primary_assignments as (
    -- The part of each primary assignment during which the case is open.
    select
        a.worker_id,
        a.case_id,
        greatest(a.start_date, c.opened_on) as starts_on,
        least(coalesce(a.end_date, 'infinity'::date), coalesce(c.closed_on, 'infinity'::date)) as ends_on
    from {{ ref('stg_cpin__worker_assignments') }} as a
    inner join {{ ref('stg_cpin__cases') }} as c on c.case_id = a.case_id
    where a.assignment_role_code = 'PRI'
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
    where worker_id is not null
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

level_days as (
    select l.worker_id, d::date as activity_date, l.open_cases, l.children_in_care, l.overdue_investigations
    from levels as l
    cross join bounds as b
    cross join lateral generate_series(
        greatest(l.valid_from, b.from_date), least(l.valid_to - 1, b.to_date), interval '1 day'
    ) as d
    where (l.open_cases <> 0 or l.children_in_care <> 0 or l.overdue_investigations <> 0)
      and l.valid_to > b.from_date and l.valid_from <= b.to_date
),

referrals as (
    select r.intake_worker_id as worker_id, r.received_on as activity_date, count(*) as new_referrals
    from {{ ref('stg_cpin__referrals') }} as r
    cross join bounds as b
    where r.intake_worker_id is not null and r.received_on between b.from_date and b.to_date
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
