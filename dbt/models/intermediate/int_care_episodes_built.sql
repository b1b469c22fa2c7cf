{#- One row per episode of care (removal → discharge). An episode is the child's CIC case (the
    source opens one CIC case per removal): a new removal after a discharge is a new case and so a
    new episode. Dates come from the placements, which record the physical moves:
      entry_date = first placement start (the day of removal);
      exit_date  = end of the last placement when it ends in a discharge reason, else the case's
                   closed_on; null while in care.
    Days are half-open [entry_date, exit_date): the exit day is not a day in care. -#}
with cic_cases as (
    select * from {{ ref('stg_cpin__cases') }} where case_type_code = 'CIC'
),

-- One pass over the placements: per-case aggregates as window functions alongside the last
-- placement row (a self-join of two derived tables misleads the planner at provincial scale).
placements_ranked as (
    select
        case_id,
        child_id,
        placement_type_code,
        start_date,
        end_date,
        end_reason_code,
        ends_in_discharge,
        min(start_date) over per_case as first_placement_on,
        bool_or(end_date is null) over per_case as has_open_placement,
        count(*) over per_case as placement_rows,
        row_number() over (partition by case_id order by start_date desc, placement_id desc) as recency
    from {{ ref('stg_cpin__placements') }}
    window per_case as (partition by case_id)
),

last_placement as (
    select * from placements_ranked where recency = 1
),

episodes as (
    select
        c.case_id as episode_id,
        lp.child_id,
        c.agency_id,
        lp.first_placement_on as entry_date,
        case
            when lp.ends_in_discharge and lp.end_date is not null then lp.end_date
            when not lp.has_open_placement then c.closed_on
        end as exit_date,
        case
            when lp.ends_in_discharge and lp.end_date is not null then lp.end_reason_code
            when not lp.has_open_placement and c.closed_on is not null then c.close_reason_code
        end as discharge_reason_code,
        lp.placement_type_code as last_placement_type_code,
        lp.start_date as last_placement_start_date,
        lp.placement_rows
    from cic_cases as c
    inner join last_placement as lp on lp.case_id = c.case_id
),

enriched as (
    select
        e.*,
        pm.master_person_id,
        p.birth_date,
        {{ eighteenth_birthday('p.birth_date') }} as eighteenth_birthday,
        {{ age_years('p.birth_date', 'e.entry_date') }} as age_at_entry,
        er.end_reason_label as discharge_reason,
        coalesce(er.is_permanency, false) as is_permanency_exit,
        coalesce(er.counts_for_reentry, false) as is_reentry_eligible_exit,
        (e.discharge_reason_code = 'REU' and e.last_placement_type_code = 'THV') as exits_from_trial_home_visit,
        -- INDICATORS.md 1: a trial home visit longer than 30 days counts as lasting 30 days, so the
        -- exit is taken as visit start + 30 days (days beyond 30 do not count against 12 months).
        case
            when e.discharge_reason_code = 'REU' and e.last_placement_type_code = 'THV'
                and e.exit_date - e.last_placement_start_date > 30
                then e.last_placement_start_date + 30
            else e.exit_date
        end as permanency_exit_date
    from episodes as e
    inner join {{ ref('int_persons_mastered') }} as pm on pm.person_id = e.child_id
    left join {{ ref('stg_cpin__persons') }} as p on p.person_id = e.child_id
    left join {{ ref('end_reasons') }} as er on er.end_reason_code = e.discharge_reason_code
)

select
    en.episode_id,
    en.child_id,
    en.master_person_id,
    en.agency_id,
    en.entry_date,
    en.exit_date,
    en.exit_date is null or en.exit_date > {{ as_of_date() }} as is_open,
    en.discharge_reason_code,
    en.discharge_reason,
    en.is_permanency_exit,
    en.is_reentry_eligible_exit,
    en.exits_from_trial_home_visit,
    en.permanency_exit_date,
    en.last_placement_type_code,
    en.birth_date,
    en.eighteenth_birthday,
    en.age_at_entry,
    {{ age_years('en.birth_date', 'en.exit_date') }} as age_at_exit,
    coalesce(en.exit_date, {{ as_of_date() }} + 1) - en.entry_date as days_in_care,
    en.exit_date is not null and en.exit_date - en.entry_date < 8 as is_short_stay,
    en.placement_rows,
    row_number() over (partition by en.master_person_id order by en.entry_date, en.episode_id) as episode_number,
    lead(en.entry_date) over (partition by en.master_person_id order by en.entry_date, en.episode_id)
        as next_entry_date
from enriched as en
