{#- Spend per agency × month of service × payment category × placement type: what was paid, what
    is approved but not yet paid, what is still requested, and what was voided. -#}
{{ config(post_hook=["{{ secure_by_agency() }}"], indexes=[{'columns': ['agency_id']}]) }}
select
    f.agency_id,
    a.agency_code,
    f.service_month,
    f.fiscal_year,
    f.payment_category_code,
    f.payment_category,
    f.placement_type_code,
    f.placement_type,
    count(*) filter (where f.payment_status_code = 'PAID') as payments_paid,
    coalesce(sum(f.amount) filter (where f.payment_status_code = 'PAID'), 0) as amount_paid,
    coalesce(sum(f.amount) filter (where f.payment_status_code = 'APP'), 0) as amount_approved_unpaid,
    coalesce(sum(f.amount) filter (where f.payment_status_code = 'REQ'), 0) as amount_requested,
    coalesce(sum(f.amount) filter (where f.payment_status_code = 'VOID'), 0) as amount_voided
from {{ ref('fct_payments') }} as f
inner join {{ ref('dim_agency') }} as a on a.agency_id = f.agency_id
group by 1, 2, 3, 4, 5, 6, 7, 8
