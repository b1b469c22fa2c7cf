select
    r.referral_id,
    r.agency_id,
    r.case_id,
    r.received_at,
    r.received_at::date as received_on,
    r.referral_source_code,
    src.label as referral_source,
    r.allegation_code,
    al.label as allegation,
    r.screening_code,
    sc.label as screening_decision,
    r.primary_person_id,
    r.intake_worker_id,
    r.updated_at
from {{ source('cpin', 'referral') }} as r
{{ decode_join('referral_source', 'r.referral_source_code', 'src') }}
{{ decode_join('allegation', 'r.allegation_code', 'al') }}
{{ decode_join('screening', 'r.screening_code', 'sc') }}
where not r._deleted and not r.is_deleted
