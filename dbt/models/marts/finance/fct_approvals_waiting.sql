{#- Payments requested and not yet approved (or voided) on the as-of date, oldest first: what
    finance staff must approve. -#}
{{ config(post_hook=["{{ secure_by_agency() }}"], indexes=[{'columns': ['agency_id']}]) }}
select
    f.payment_id,
    f.agency_id,
    f.child_id,
    f.provider_id,
    f.payment_category,
    f.placement_type,
    f.amount,
    f.requested_on,
    {{ as_of_date() }} - f.requested_on as days_waiting,
    case
        when {{ as_of_date() }} - f.requested_on <= 7 then '0-7 days'
        when {{ as_of_date() }} - f.requested_on <= 30 then '8-30 days'
        else 'over 30 days'
    end as waiting_band
from {{ ref('fct_payments') }} as f
where f.payment_status_code = 'REQ'
  and f.requested_on <= {{ as_of_date() }}
