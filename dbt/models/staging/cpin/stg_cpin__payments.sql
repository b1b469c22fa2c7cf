select
    p.payment_id,
    p.agency_id,
    p.person_id as child_id,
    p.provider_id,
    p.placement_id,
    p.category_code as payment_category_code,
    c.label as payment_category,
    p.service_from,
    p.service_to,
    p.amount,
    p.status_code as payment_status_code,
    s.label as payment_status,
    p.requested_on,
    p.approved_on,
    p.paid_on,
    p.updated_at
from {{ source('cpin', 'payment') }} as p
{{ decode_join('payment_category', 'p.category_code', 'c') }}
{{ decode_join('payment_status', 'p.status_code', 's') }}
where not p._deleted and not p.is_deleted
