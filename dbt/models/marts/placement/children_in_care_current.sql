{#- "Where are my kids": one row per child with an open placement on the as-of date, with what a
    manager needs to act on. Placement address: the provider's address; on a trial home visit
    (no provider) the child's own current address (the family home); none while on the run. -#}
{{ config(
    post_hook=["{{ secure_by_agency() }}"],
    contract={'enforced': true},
    indexes=[{'columns': ['child_id'], 'unique': true}, {'columns': ['agency_id']}]
) }}

with current_placement as (
    select distinct on (child_id) *
    from {{ ref('int_placements_sequenced') }}
    where start_date <= {{ as_of_date() }}
      and (end_date is null or end_date > {{ as_of_date() }})
    order by child_id, start_date desc, placement_id desc
),

current_legal_status as (
    select distinct on (child_id) child_id, legal_status_code, legal_status
    from {{ ref('stg_cpin__legal_statuses') }}
    where start_date <= {{ as_of_date() }}
      and (end_date is null or end_date > {{ as_of_date() }})
    order by child_id, start_date desc, legal_status_id desc
)

select
    cp.child_id::bigint as child_id,
    e.master_person_id::bigint as master_person_id,
    c.given_name::text as given_name,
    c.surname::text as surname,
    c.birth_date::date as birth_date,
    {{ age_years('c.birth_date', as_of_date()) }}::int as age_years,
    cp.agency_id::smallint as agency_id,
    ag.agency_code::text as agency_code,
    ag.agency_name::text as agency_name,
    cp.episode_id::bigint as episode_id,
    e.entry_date::date as episode_start_date,
    ls.legal_status_code::text as legal_status_code,
    ls.legal_status::text as legal_status,
    cp.placement_id::bigint as placement_id,
    cp.provider_id::integer as provider_id,
    pv.provider_name::text as provider_name,
    cp.placement_type_code::text as placement_type_code,
    cp.placement_type::text as placement_type,
    (case when cp.provider_id is not null then pv.street when cp.placement_type_code = 'THV' then ha.street end)::text
        as address,
    (case when cp.provider_id is not null then pv.city when cp.placement_type_code = 'THV' then ha.city end)::text
        as city,
    (case when cp.provider_id is not null then pv.region when cp.placement_type_code = 'THV' then ha.region end)::text
        as region,
    (case when cp.provider_id is not null then pv.postal_code when cp.placement_type_code = 'THV' then ha.postal_code end)::text
        as postal_code,
    cp.start_date::date as placement_start_date,
    ({{ as_of_date() }} - cp.start_date)::int as days_in_placement,
    w.worker_id::integer as worker_id,
    w.worker_name::text as worker_name,
    w.supervisor_id::integer as supervisor_id,
    w.supervisor_name::text as supervisor_name,
    o.office_name::text as office_name,
    lc.last_contact_on::date as last_contact_date,
    ({{ as_of_date() }} - lc.last_contact_on)::int as days_since_last_contact,
    (lc.last_contact_on is null or {{ as_of_date() }} - lc.last_contact_on > 30)::boolean as flag_no_contact_30_days,
    (case
        when cp.provider_id is not null then pv.street is null or pv.postal_code is null
        when cp.placement_type_code = 'THV' then ha.street is null or ha.postal_code is null
        else true
    end)::boolean as flag_no_placement_address,
    coalesce(cp.is_placement and pv.is_over_capacity, false)::boolean as flag_over_capacity,
    coalesce({{ add_to_date('month', 210, 'c.birth_date') }} <= {{ as_of_date() }}, false)::boolean
        as flag_approaching_transition,
    {{ as_of_date() }}::date as as_of_date
from current_placement as cp
inner join {{ ref('int_care_episodes_built') }} as e on e.episode_id = cp.episode_id
inner join {{ ref('dim_agency') }} as ag on ag.agency_id = cp.agency_id
left join {{ ref('stg_cpin__persons') }} as c on c.person_id = cp.child_id
left join current_legal_status as ls on ls.child_id = cp.child_id
left join {{ ref('dim_provider') }} as pv on pv.provider_id = cp.provider_id
left join {{ ref('int_person_addresses_current') }} as ha on ha.person_id = cp.child_id
left join {{ ref('int_case_workers_resolved') }} as w on w.case_id = cp.episode_id
left join {{ ref('int_contacts_summarised') }} as lc on lc.child_id = cp.child_id
left join {{ ref('stg_cpin__workers') }} as ww on ww.worker_id = w.worker_id
left join {{ ref('stg_cpin__offices') }} as o on o.office_id = ww.office_id
