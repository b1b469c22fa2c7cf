select
    a.address_id,
    a.person_id,
    a.street,
    a.city,
    a.province,
    upper(replace(a.postal_code, ' ', '')) as postal_code,
    a.start_date,
    a.end_date,
    a.updated_at
from {{ source('cpin', 'person_address') }} as a
where not a._deleted and not a.is_deleted
