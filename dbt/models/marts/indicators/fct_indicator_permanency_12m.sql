{#- INDICATORS.md 1, one row per child of the entry cohort (int_entry_cohorts_selected):
    achieved = discharged to permanency (reunification, relatives, custody/guardianship,
    adoption) before the 12-month anniversary of entry and before the 18th birthday, using the
    trial-home-visit exit date (a visit longer than 30 days counts as 30 days). -#}
select
    c.fiscal_year,
    c.agency_id,
    c.master_person_id,
    c.child_id,
    c.episode_id,
    c.entry_date,
    c.exit_date,
    c.permanency_exit_date,
    c.discharge_reason_code,
    c.exits_from_trial_home_visit,
    (
        c.is_permanency_exit
        and c.permanency_exit_date <= {{ as_of_date() }}
        and c.permanency_exit_date < {{ add_to_date('month', 12, 'c.entry_date') }}
        and (c.eighteenth_birthday is null or c.permanency_exit_date < c.eighteenth_birthday)
    ) as achieved_permanency
from {{ ref('int_entry_cohorts_selected') }} as c
