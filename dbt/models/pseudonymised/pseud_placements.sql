{{ config(materialized='view', alias='placements', post_hook=["{{ pseudonymised_hook() }}"]) }}
select
    {{ pseudonym('child', 'f.master_person_id') }} as child_key,
    {{ pseudonym('episode', 'f.episode_id') }} as episode_key,
    {{ pseudonym('provider', 'f.provider_id') }} as provider_key,
    a.agency_code,
    f.placement_type,
    f.is_placement,
    f.days_of_care_group,
    f.start_date,
    f.end_date,
    f.end_reason,
    f.placement_number,
    f.is_move,
    f.spell_number,
    f.days_to_date,
    f.provider_region
from {{ ref('fct_placements') }} as f
inner join {{ ref('dim_agency') }} as a on a.agency_id = f.agency_id
