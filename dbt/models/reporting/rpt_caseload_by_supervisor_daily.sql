{{ config(alias='caseload_by_supervisor_daily', post_hook=["{{ reporting_view_hook() }}"]) }}
select
    activity_date,
    agency_id,
    supervisor_id,
    supervisor_name,
    count(distinct worker_id) as workers,
    sum(open_cases) as open_cases,
    sum(children_in_care) as children_in_care,
    sum(new_referrals) as new_referrals,
    sum(overdue_investigations) as overdue_investigations
from {{ ref('fct_caseload_daily') }}
where supervisor_id is not null
group by activity_date, agency_id, supervisor_id, supervisor_name
