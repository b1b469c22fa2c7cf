{#- INDICATORS.md 2, one row per child in the denominator: of the entry cohort, those discharged
    within 12 months of entry to reunification, relatives or guardianship (not adoption), under 18
    at exit (the cohort already excludes short stays and 18+ at entry). re_entered: the child's
    next episode (any agency, by master person) starts within 12 months of that discharge (first
    re-entry only; a re-entry counts whatever its length). The actual discharge date is used here:
    the trial-home-visit adjustment belongs to indicator 1. -#}
select
    c.fiscal_year,
    c.agency_id,
    c.master_person_id,
    c.child_id,
    c.episode_id,
    c.entry_date,
    c.exit_date,
    c.discharge_reason_code,
    c.next_entry_date,
    (
        c.next_entry_date is not null
        and c.next_entry_date <= {{ as_of_date() }}
        and c.next_entry_date < {{ add_to_date('month', 12, 'c.exit_date') }}
    ) as re_entered
from {{ ref('int_entry_cohorts_selected') }} as c
where c.is_reentry_eligible_exit
  and c.exit_date <= {{ as_of_date() }}
  and c.exit_date < {{ add_to_date('month', 12, 'c.entry_date') }}
  and (c.age_at_exit is null or c.age_at_exit < 18)
