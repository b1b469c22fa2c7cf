{{ config(post_hook=["{{ secure_by_agency() }}"], indexes=[{'columns': ['child_id']}, {'columns': ['agency_id']}]) }}
select
    s.placement_id,
    s.episode_id,
    s.child_id,
    e.master_person_id,
    s.agency_id,
    s.provider_id,
    pv.provider_name,
    s.placement_type_code,
    s.placement_type,
    s.is_placement,
    s.days_of_care_group,
    s.start_date,
    s.end_date,
    s.end_reason_code,
    s.end_reason,
    s.placement_number,
    s.real_placement_number,
    s.is_move,
    s.spell_number,
    s.days_to_date,
    s.start_date <= {{ as_of_date() }} and (s.end_date is null or s.end_date > {{ as_of_date() }}) as is_current,
    pv.city as provider_city,
    pv.region as provider_region,
    {{ fiscal_year('s.start_date') }} as start_fiscal_year
from {{ ref('int_placements_sequenced') }} as s
inner join {{ ref('int_care_episodes_built') }} as e on e.episode_id = s.episode_id
left join {{ ref('dim_provider') }} as pv on pv.provider_id = s.provider_id
