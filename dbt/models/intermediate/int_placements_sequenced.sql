{#- Every placement row of an episode in order, with the moves of INDICATORS.md 3:
    trial home visits, runaway and respite (is_placement = false) are not placements, so going
    into or out of one is not a move; among real placements, a move is a change of provider
    (returning to the same provider after a THV/RUN/RES, or a type change at the same provider,
    is not). The first real placement of an episode is not a move. spell_number counts stays
    at one provider within the episode. -#}
with placements as (
    select p.*
    from {{ ref('stg_cpin__placements') }} as p
    inner join {{ ref('int_care_episodes_built') }} as e on e.episode_id = p.case_id
),

real_placements as (
    select
        placement_id,
        row_number() over w as real_placement_number,
        lag(provider_id) over w as previous_provider_id
    from placements
    where is_placement
    window w as (partition by case_id order by start_date, placement_id)
),

flagged as (
    select
        p.*,
        row_number() over (partition by p.case_id order by p.start_date, p.placement_id) as placement_number,
        r.real_placement_number,
        r.previous_provider_id,
        coalesce(r.real_placement_number > 1 and r.previous_provider_id is distinct from p.provider_id, false)
            as is_move
    from placements as p
    left join real_placements as r on r.placement_id = p.placement_id
)

select
    f.placement_id,
    f.case_id as episode_id,
    f.child_id,
    f.agency_id,
    f.provider_id,
    f.placement_type_code,
    f.placement_type,
    f.is_placement,
    f.days_of_care_group,
    f.start_date,
    f.end_date,
    f.end_reason_code,
    f.end_reason,
    f.placement_number,
    f.real_placement_number,
    f.previous_provider_id,
    f.is_move,
    1 + sum(f.is_move::int) over (partition by f.case_id order by f.start_date, f.placement_id) as spell_number,
    least(coalesce(f.end_date, {{ as_of_date() }} + 1), {{ as_of_date() }} + 1) - f.start_date as days_to_date
from flagged as f
