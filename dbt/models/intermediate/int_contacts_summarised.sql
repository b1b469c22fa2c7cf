{#- Last worker contact with each child up to the as-of date: a contact note naming the child,
    or any note on the child's in-care (CIC) case. -#}
with notes as (
    select person_id, case_id, contact_on
    from {{ ref('stg_cpin__contact_notes') }}
    where contact_on <= {{ as_of_date() }}
),

by_person as (
    select person_id as child_id, max(contact_on) as last_contact_on
    from notes
    where person_id is not null
    group by person_id
),

by_case as (
    select e.child_id, max(n.contact_on) as last_contact_on
    from notes as n
    inner join {{ ref('int_care_episodes_built') }} as e on e.episode_id = n.case_id
    group by e.child_id
)

select
    coalesce(p.child_id, c.child_id) as child_id,
    greatest(p.last_contact_on, c.last_contact_on) as last_contact_on
from by_person as p
full outer join by_case as c on c.child_id = p.child_id
