select
    s.legal_status_id,
    s.person_id as child_id,
    s.agency_id,
    s.status_code as legal_status_code,
    l.label as legal_status,
    s.start_date,
    s.end_date,
    s.updated_at
from {{ source('cpin', 'legal_status') }} as s
{{ decode_join('legal_status', 's.status_code', 'l') }}
where not s._deleted and not s.is_deleted
