{{ config(materialized='view', alias='payments', post_hook=["{{ pseudonymised_hook() }}"]) }}
select
    {{ pseudonym('child', 'pm.master_person_id') }} as child_key,
    a.agency_code,
    f.payment_category,
    f.placement_type,
    f.service_month,
    f.fiscal_year,
    f.amount,
    f.lifecycle_stage,
    f.days_to_approve,
    f.days_to_pay
from {{ ref('fct_payments') }} as f
inner join {{ ref('dim_agency') }} as a on a.agency_id = f.agency_id
left join {{ ref('int_persons_mastered') }} as pm on pm.person_id = f.child_id
