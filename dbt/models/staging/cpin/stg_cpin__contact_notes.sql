{#- note_text is free text about a family: it stays in raw and is not carried into the warehouse
    models (nothing downstream needs it, and it is the most sensitive column in the source). -#}
select
    n.contact_note_id,
    n.agency_id,
    n.case_id,
    n.person_id,
    n.worker_id,
    n.contact_at,
    n.contact_at::date as contact_on,
    n.contact_type_code,
    t.label as contact_type,
    n.location_code,
    l.label as contact_location,
    n.duration_minutes,
    n.updated_at
from {{ source('cpin', 'contact_note') }} as n
{{ decode_join('contact_type', 'n.contact_type_code', 't') }}
{{ decode_join('contact_location', 'n.location_code', 'l') }}
where not n._deleted and not n.is_deleted
