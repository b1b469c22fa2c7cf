select
    o.office_id,
    o.agency_id,
    o.name as office_name,
    o.street,
    o.city,
    upper(replace(o.postal_code, ' ', '')) as postal_code,
    o.updated_at
from {{ source('cpin', 'office') }} as o
where not o._deleted and not o.is_deleted
