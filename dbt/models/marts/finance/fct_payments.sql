{#- One row per payment with its lifecycle (requested → approved → paid, or voided), the placement
    type it pays for, and how long each step took. Incremental by partition
    (macros/incremental.sql): the payments the latest extract batches touched are rebuilt. -#}
-- depends_on: {{ source('cpin', 'payment') }}
-- depends_on: {{ source('cpin', 'placement') }}
-- depends_on: {{ source('cpin', 'provider') }}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook=["{{ payments_plan() }}"],
    post_hook=["{{ secure_by_agency() }}", "{{ record_incremental_mark() }}"],
    indexes=[{'columns': ['agency_id']}, {'columns': ['payment_id'], 'unique': true}]
) }}
select
    p.payment_id,
    p.agency_id,
    p.child_id,
    p.provider_id,
    p.placement_id,
    p.payment_category_code,
    p.payment_category,
    coalesce(pl.placement_type_code, pv.provider_type_code) as placement_type_code,
    coalesce(pt.placement_type_label, 'No placement') as placement_type,
    p.service_from,
    p.service_to,
    cast({{ dbt.date_trunc('month', 'p.service_from') }} as date) as service_month,
    {{ fiscal_year('p.service_from') }} as fiscal_year,
    p.amount,
    p.payment_status_code,
    p.payment_status,
    case p.payment_status_code
        when 'REQ' then 'requested' when 'APP' then 'approved' when 'PAID' then 'paid' when 'VOID' then 'voided'
    end as lifecycle_stage,
    p.requested_on,
    p.approved_on,
    p.paid_on,
    p.approved_on - p.requested_on as days_to_approve,
    p.paid_on - coalesce(p.approved_on, p.requested_on) as days_to_pay
from {{ ref('stg_cpin__payments') }} as p
left join {{ ref('stg_cpin__placements') }} as pl on pl.placement_id = p.placement_id
left join {{ ref('stg_cpin__providers') }} as pv on pv.provider_id = p.provider_id
left join {{ ref('placement_types') }} as pt
    on pt.placement_type_code = coalesce(pl.placement_type_code, pv.provider_type_code)
{%- if is_incremental() %}
where exists (select 1 from {{ plan_table() }} where since_batch is null)
   or p.payment_id in (select payment_id from pg_temp.cww_touched_payments)
{%- endif %}
