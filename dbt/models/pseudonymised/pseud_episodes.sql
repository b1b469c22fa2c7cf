{{ config(alias='episodes', post_hook=["{{ pseudonymised_hook() }}"]) }}
select
    {{ pseudonym('child', 'e.master_person_id') }} as child_key,
    {{ pseudonym('episode', 'e.episode_id') }} as episode_key,
    a.agency_code,
    to_char(e.birth_date, 'YYYY-MM') as birth_year_month,
    e.age_at_entry,
    e.age_at_exit,
    p.sex,
    p.indigenous_identity,
    e.entry_date,
    e.exit_date,
    e.is_open,
    e.discharge_reason,
    e.is_permanency_exit,
    e.days_in_care,
    e.episode_number
from {{ ref('int_care_episodes_built') }} as e
inner join {{ ref('dim_agency') }} as a on a.agency_id = e.agency_id
left join {{ ref('stg_cpin__persons') }} as p on p.person_id = e.child_id
