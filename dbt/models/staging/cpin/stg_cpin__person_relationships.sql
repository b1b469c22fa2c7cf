select
    r.relationship_id,
    r.person_id,
    r.related_person_id,
    r.relationship_code,
    l.label as relationship,
    r.start_date,
    r.end_date,
    r.updated_at
from {{ source('cpin', 'person_relationship') }} as r
{{ decode_join('relationship', 'r.relationship_code', 'l') }}
where not r._deleted and not r.is_deleted
