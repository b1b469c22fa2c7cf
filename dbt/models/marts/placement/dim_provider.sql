with occupancy as (
    select provider_id, count(*) as children_placed
    from {{ ref('int_placements_sequenced') }}
    where is_placement
      and start_date <= {{ as_of_date() }}
      and (end_date is null or end_date > {{ as_of_date() }})
    group by provider_id
)

select
    p.provider_id,
    p.agency_id,
    p.provider_type_code,
    p.provider_type,
    t.days_of_care_group as provider_group,
    p.provider_name,
    p.street,
    coalesce(p.city, pr.city) as city,
    p.postal_code,
    pr.region,
    p.capacity,
    p.per_diem,
    p.opened_on,
    p.closed_on,
    p.closed_on is null or p.closed_on > {{ as_of_date() }} as is_open,
    coalesce(o.children_placed, 0) as children_placed,
    coalesce(o.children_placed, 0) > p.capacity as is_over_capacity
from {{ ref('stg_cpin__providers') }} as p
left join {{ ref('placement_types') }} as t on t.placement_type_code = p.provider_type_code
left join {{ ref('stg_cpin__postal_regions') }} as pr on pr.fsa = left(p.postal_code, 3)
left join occupancy as o on o.provider_id = p.provider_id
