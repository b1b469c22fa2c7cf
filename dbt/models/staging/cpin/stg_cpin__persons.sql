select
    p.person_id,
    p.agency_id,
    p.given_name,
    p.middle_name,
    p.surname,
    p.birth_date,
    p.sex_code,
    sx.label as sex,
    p.indigenous_code,
    ind.label as indigenous_identity,
    p.first_language,
    p.phone,
    p.legacy_id,
    p.source_code,
    p.migrated_at,
    p.created_at,
    p.updated_at
from {{ source('cpin', 'person') }} as p
{{ decode_join('sex', 'p.sex_code', 'sx') }}
{{ decode_join('indigenous', 'p.indigenous_code', 'ind') }}
where not p._deleted and not p.is_deleted
