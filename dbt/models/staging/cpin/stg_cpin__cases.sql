select
    c.case_id,
    c.agency_id,
    c.case_type_code,
    t.label as case_type,
    c.parent_case_id,
    c.opened_on,
    c.closed_on,
    c.close_reason_code,
    er.end_reason_label as close_reason,
    c.primary_worker_id,
    c.updated_at
from {{ source('cpin', 'case') }} as c
{{ decode_join('case_type', 'c.case_type_code', 't') }}
left join {{ ref('end_reasons') }} as er on er.end_reason_code = c.close_reason_code
where not c._deleted and not c.is_deleted
