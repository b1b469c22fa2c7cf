select
    w.worker_id,
    w.agency_id,
    w.office_id,
    w.given_name,
    w.surname,
    w.given_name || ' ' || w.surname as worker_name,
    w.role_code as worker_role_code,
    r.label as worker_role,
    w.supervisor_id,
    w.hired_on,
    w.left_on,
    w.updated_at
from {{ source('cpin', 'worker') }} as w
{{ decode_join('worker_role', 'w.role_code', 'r') }}
where not w._deleted and not w.is_deleted
