{{ config(post_hook=["{{ secure_by_agency() }}"], indexes=[{'columns': ['agency_id']}]) }}
{#- Candidate duplicate pairs for an agency's records staff, from the matcher's output
    (data_quality.person_match_pairs / master_person, written by `cww dedupe run`). Read at run
    time with adapter.get_relation, like int_persons_mastered: before matching has run the model
    builds empty.

    One row per pair and per agency holding a record of it: a pair inside one agency appears once;
    a pair across two agencies appears once for each, seen from its own record. The other
    agency's child is shown by id and agency only (no name, no birth date): agencies never see
    another agency's children. Pairs the matcher ruled out (twins, known relatives:
    cannot_link) are not offered for merging. -#}
{%- set pairs = none -%}
{%- set master = none -%}
{%- if execute -%}
    {%- set pairs = adapter.get_relation(database=target.database, schema=var('person_match_schema'),
                                         identifier='person_match_pairs') -%}
    {%- set master = adapter.get_relation(database=target.database, schema=var('person_match_schema'),
                                          identifier='master_person') -%}
{%- endif %}
with pairs as (
    {%- if pairs %}
    select
        person_id_l::bigint as person_id_l,
        person_id_r::bigint as person_id_r,
        match_probability::double precision as match_probability,
        agreement::text as agreeing_fields
    from {{ pairs }}
    where cannot_link is null
    {%- else %}
    select null::bigint as person_id_l, null::bigint as person_id_r,
           null::double precision as match_probability, null::text as agreeing_fields
    where false
    {%- endif %}
),

sides as (
    -- each pair from both ends: "my record" and "the duplicate"
    select person_id_l as person_id, person_id_r as duplicate_person_id, match_probability, agreeing_fields
    from pairs
    union all
    select person_id_r, person_id_l, match_probability, agreeing_fields
    from pairs
),

masters as (
    {%- if master %}
    select person_id::bigint as person_id, master_person_id::bigint as master_person_id from {{ master }}
    {%- else %}
    select null::bigint as person_id, null::bigint as master_person_id where false
    {%- endif %}
)

select
    p.agency_id,
    a.agency_code,
    s.person_id,
    s.duplicate_person_id,
    round(s.match_probability::numeric, 4) as match_probability,
    s.agreeing_fields,
    coalesce(mp.master_person_id = md.master_person_id, false) as same_master_person,
    p.given_name,
    p.surname,
    p.birth_date,
    d.agency_id <> p.agency_id as is_other_agency,
    da.agency_code as duplicate_agency_code,
    case when d.agency_id = p.agency_id then d.given_name end as duplicate_given_name,
    case when d.agency_id = p.agency_id then d.surname end as duplicate_surname,
    case when d.agency_id = p.agency_id then d.birth_date end as duplicate_birth_date
from sides as s
inner join {{ ref('stg_cpin__persons') }} as p on p.person_id = s.person_id
inner join {{ ref('stg_cpin__persons') }} as d on d.person_id = s.duplicate_person_id
inner join {{ ref('stg_cpin__agencies') }} as a on a.agency_id = p.agency_id
inner join {{ ref('stg_cpin__agencies') }} as da on da.agency_id = d.agency_id
left join masters as mp on mp.person_id = s.person_id
left join masters as md on md.person_id = s.duplicate_person_id
-- a pair inside one agency once (from its smaller id); across agencies once per agency
where d.agency_id <> p.agency_id or s.person_id < s.duplicate_person_id
