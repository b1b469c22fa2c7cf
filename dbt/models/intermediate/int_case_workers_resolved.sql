{#- The primary worker of each case on the as-of date: the open PRI worker assignment (latest
    started), falling back to the case's primary_worker_id; with that worker's supervisor. -#}
with assignment as (
    select distinct on (case_id) case_id, worker_id
    from {{ ref('stg_cpin__worker_assignments') }}
    where assignment_role_code = 'PRI'
      and start_date <= {{ as_of_date() }}
      and (end_date is null or end_date > {{ as_of_date() }})
    order by case_id, start_date desc, assignment_id desc
)

select
    c.case_id,
    coalesce(a.worker_id, c.primary_worker_id) as worker_id,
    w.worker_name,
    w.supervisor_id,
    s.worker_name as supervisor_name
from {{ ref('stg_cpin__cases') }} as c
left join assignment as a on a.case_id = c.case_id
left join {{ ref('stg_cpin__workers') }} as w on w.worker_id = coalesce(a.worker_id, c.primary_worker_id)
left join {{ ref('stg_cpin__workers') }} as s on s.worker_id = w.supervisor_id
