{{ config(alias='children_in_care', post_hook=["{{ pseudonymised_hook() }}"]) }}
select
    {{ pseudonym('child', 'c.master_person_id') }} as child_key,
    c.agency_code,
    to_char(c.birth_date, 'YYYY-MM') as birth_year_month,
    c.age_years,
    d.sex,
    d.indigenous_identity,
    c.legal_status,
    c.placement_type,
    {{ pseudonym('provider', 'c.provider_id') }} as provider_key,
    c.city,
    c.region,
    c.episode_start_date,
    c.placement_start_date,
    c.days_in_placement,
    c.days_since_last_contact,
    c.flag_no_contact_30_days,
    c.flag_no_placement_address,
    c.flag_over_capacity,
    c.flag_approaching_transition,
    c.as_of_date
from {{ ref('children_in_care_current') }} as c
left join {{ ref('dim_child') }} as d on d.child_id = c.child_id
