select
    p.placement_id,
    p.person_id as child_id,
    p.agency_id,
    p.case_id,
    p.provider_id,
    p.placement_type_code,
    t.placement_type_label as placement_type,
    coalesce(t.is_placement, true) as is_placement,
    coalesce(t.days_of_care_group, 'other') as days_of_care_group,
    p.start_date,
    p.end_date,
    p.end_reason_code,
    er.end_reason_label as end_reason,
    coalesce(er.is_discharge, false) as ends_in_discharge,
    p.updated_at
from {{ source('cpin', 'placement') }} as p
left join {{ ref('placement_types') }} as t on t.placement_type_code = p.placement_type_code
left join {{ ref('end_reasons') }} as er on er.end_reason_code = p.end_reason_code
where not p._deleted and not p.is_deleted
