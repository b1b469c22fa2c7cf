select
    a.agency_id,
    a.agency_code,
    a.name as agency_name,
    a.region as agency_region,
    a.is_indigenous,
    a.joined_on,
    a.migration_wave,
    a.updated_at
from {{ source('cpin', 'agency') }} as a
where not a._deleted and not a.is_deleted
