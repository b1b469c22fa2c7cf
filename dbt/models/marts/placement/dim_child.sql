{#- Every person who has been a child in care (has an episode), with their master person id, the
    current address and where they stand today. Names and birth dates live here and in
    children_in_care_current only; the pseudonymised layer drops them. -#}
with episodes as (
    select
        child_id,
        count(*) as episodes,
        min(entry_date) as first_entry_date,
        max(entry_date) as latest_entry_date,
        bool_or(entry_date <= {{ as_of_date() }} and is_open) as is_in_care
    from {{ ref('int_care_episodes_built') }}
    group by child_id
),

latest_episode as (
    select distinct on (child_id) child_id, agency_id
    from {{ ref('int_care_episodes_built') }}
    order by child_id, entry_date desc, episode_id desc
)

select
    p.person_id as child_id,
    pm.master_person_id,
    le.agency_id,
    p.agency_id as record_agency_id,
    p.given_name,
    p.middle_name,
    p.surname,
    p.birth_date,
    to_char(p.birth_date, 'YYYY-MM') as birth_year_month,
    {{ age_years('p.birth_date', as_of_date()) }} as age_years,
    p.sex_code,
    p.sex,
    p.indigenous_code,
    p.indigenous_identity,
    p.first_language,
    p.source_code,
    a.street,
    a.city,
    a.postal_code,
    a.region,
    e.episodes,
    e.first_entry_date,
    e.latest_entry_date,
    e.is_in_care
from {{ ref('stg_cpin__persons') }} as p
inner join episodes as e on e.child_id = p.person_id
inner join latest_episode as le on le.child_id = p.person_id
inner join {{ ref('int_persons_mastered') }} as pm on pm.person_id = p.person_id
left join {{ ref('int_person_addresses_current') }} as a on a.person_id = p.person_id
