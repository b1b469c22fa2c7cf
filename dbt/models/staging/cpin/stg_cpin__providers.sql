select
    p.provider_id,
    p.agency_id,
    p.provider_type_code,
    t.placement_type_label as provider_type,
    p.name as provider_name,
    p.street,
    p.city,
    upper(replace(p.postal_code, ' ', '')) as postal_code,
    p.capacity,
    p.per_diem,
    p.opened_on,
    p.closed_on,
    p.updated_at
from {{ source('cpin', 'provider') }} as p
left join {{ ref('placement_types') }} as t on t.placement_type_code = p.provider_type_code
where not p._deleted and not p.is_deleted
