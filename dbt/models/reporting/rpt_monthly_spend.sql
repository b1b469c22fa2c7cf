{{ config(alias='monthly_spend', post_hook=["{{ reporting_view_hook() }}"]) }}
select
    agency_id,
    agency_code,
    service_month as month,
    fiscal_year,
    payment_category_code as category_code,
    payment_category as category,
    placement_type_code,
    placement_type,
    payments_paid as payments,
    amount_paid as amount,
    amount_approved_unpaid,
    amount_requested,
    amount_voided
from {{ ref('fct_spend_monthly') }}
