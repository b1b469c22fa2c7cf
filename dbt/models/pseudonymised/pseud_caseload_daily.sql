{#- Workers are staff, not clients, but analysts need no names: keys only. -#}
{{ config(materialized='view', alias='caseload_daily', post_hook=["{{ pseudonymised_hook() }}"]) }}
select
    f.activity_date,
    a.agency_code,
    {{ pseudonym('worker', 'f.worker_id') }} as worker_key,
    {{ pseudonym('worker', 'f.supervisor_id') }} as supervisor_key,
    f.worker_role_code,
    f.open_cases,
    f.children_in_care,
    f.new_referrals,
    f.overdue_investigations
from {{ ref('fct_caseload_daily') }} as f
inner join {{ ref('dim_agency') }} as a on a.agency_id = f.agency_id
