select
    p.case_id,
    p.person_id,
    p.role_code as participant_role_code,
    l.label as participant_role,
    p.start_date,
    p.end_date,
    p.updated_at
from {{ source('cpin', 'case_participant') }} as p
{{ decode_join('participant_role', 'p.role_code', 'l') }}
where not p._deleted and not p.is_deleted
