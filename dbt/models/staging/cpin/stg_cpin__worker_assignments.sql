select
    a.assignment_id,
    a.worker_id,
    a.case_id,
    a.role_code as assignment_role_code,
    l.label as assignment_role,
    a.start_date,
    a.end_date,
    a.updated_at
from {{ source('cpin', 'worker_assignment') }} as a
{{ decode_join('assignment_role', 'a.role_code', 'l') }}
where not a._deleted and not a.is_deleted
