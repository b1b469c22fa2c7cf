{#- INDICATORS.md 3, one row per child of the entry cohort: days in care from entry until the
    earliest of discharge, the end of the period, the 18th birthday (and the as-of date), and the
    moves (int_placements_sequenced.is_move) that start within those days. -#}
with cohort as (
    select
        c.*,
        least(
            coalesce(c.exit_date, 'infinity'::date),
            c.period_end + 1,
            coalesce(c.eighteenth_birthday, 'infinity'::date),
            {{ as_of_date() }} + 1
        ) as counted_until
    from {{ ref('int_entry_cohorts_selected') }} as c
),

moves as (
    -- A join and a count, not a correlated subquery per child (no index on the placements).
    -- (an episode is in one cohort only: the fiscal year of its entry)
    select c.episode_id, count(*) as moves
    from cohort as c
    inner join {{ ref('int_placements_sequenced') }} as p on p.episode_id = c.episode_id
    where p.is_move
      and p.start_date >= c.entry_date
      and p.start_date < c.counted_until
    group by c.episode_id
)

select
    c.fiscal_year,
    c.agency_id,
    c.master_person_id,
    c.child_id,
    c.episode_id,
    c.entry_date,
    c.counted_until,
    greatest(c.counted_until - c.entry_date, 0) as days_in_care,
    coalesce(m.moves, 0)::int as moves
from cohort as c
left join moves as m on m.episode_id = c.episode_id
