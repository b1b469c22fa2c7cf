-- Business rule: a child in care has exactly one open placement on the as-of date (a move closes
-- one placement and opens the next). Returns children in an open episode with 0 or 2+ open
-- placement records.
with open_placements as (
    select child_id, count(*) as n
    from {{ ref('int_placements_sequenced') }}
    where start_date <= {{ as_of_date() }}
      and (end_date is null or end_date > {{ as_of_date() }})
    group by child_id
),

in_care as (
    select distinct child_id
    from {{ ref('int_care_episodes_built') }}
    where is_open and entry_date <= {{ as_of_date() }}
)

select coalesce(i.child_id, o.child_id) as child_id, coalesce(o.n, 0) as open_placements
from in_care as i
full outer join open_placements as o on o.child_id = i.child_id
where coalesce(o.n, 0) <> 1 or i.child_id is null
