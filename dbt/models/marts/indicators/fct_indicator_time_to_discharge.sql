{#- INDICATORS.md 6: every admission (episode) to care in a fiscal year — no exclusions, as the
    Ontario measure counts admissions — and whether it ended (any exit) within 12, 24 and 36
    months of admission. -#}
select
    fy.fiscal_year,
    e.agency_id,
    e.episode_id,
    e.child_id,
    e.entry_date,
    e.exit_date,
    coalesce(e.exit_date <= {{ as_of_date() }} and e.exit_date < {{ add_to_date('month', 12, 'e.entry_date') }}, false)
        as discharged_within_12m,
    coalesce(e.exit_date <= {{ as_of_date() }} and e.exit_date < {{ add_to_date('month', 24, 'e.entry_date') }}, false)
        as discharged_within_24m,
    coalesce(e.exit_date <= {{ as_of_date() }} and e.exit_date < {{ add_to_date('month', 36, 'e.entry_date') }}, false)
        as discharged_within_36m
from {{ ref('int_care_episodes_built') }} as e
inner join {{ ref('int_fiscal_years_listed') }} as fy
    on e.entry_date between fy.period_start and fy.period_end
