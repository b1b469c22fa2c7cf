select
    i.investigation_id,
    i.referral_id,
    i.agency_id,
    i.case_id,
    i.worker_id,
    i.opened_on,
    i.due_on,
    i.closed_on,
    i.outcome_code,
    o.label as outcome,
    i.ongoing_services,
    i.updated_at
from {{ source('cpin', 'investigation') }} as i
{{ decode_join('investigation_outcome', 'i.outcome_code', 'o') }}
where not i._deleted and not i.is_deleted
