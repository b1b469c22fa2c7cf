{#- INDICATORS.md 4, one row per family in the denominator: a family (the protection case) whose
    investigation closed in the fiscal year without ongoing services; its first such closure in the
    year. recurred: a new investigation of the same family (same case, or naming the same primary
    caregiver as master person) opened within 12 months after that closure with a verified
    outcome. -#}
with investigations as (
    select
        i.investigation_id,
        i.agency_id,
        i.case_id,
        i.opened_on,
        i.closed_on,
        i.outcome_code,
        i.ongoing_services,
        pm.master_person_id as caregiver_master_id
    from {{ ref('stg_cpin__investigations') }} as i
    left join {{ ref('stg_cpin__referrals') }} as r on r.referral_id = i.referral_id
    left join {{ ref('int_persons_mastered') }} as pm on pm.person_id = r.primary_person_id
),

closures as (
    select distinct on (fy.fiscal_year, i.case_id)
        fy.fiscal_year,
        i.agency_id,
        i.case_id as family_case_id,
        i.investigation_id,
        i.closed_on,
        i.caregiver_master_id
    from investigations as i
    inner join {{ ref('int_fiscal_years_listed') }} as fy
        on i.closed_on between fy.period_start and fy.period_end
    where i.ongoing_services = false
      and i.closed_on <= {{ as_of_date() }}
    order by fy.fiscal_year, i.case_id, i.closed_on, i.investigation_id
),

-- Two equi-joins (same case; same caregiver) instead of one OR'd correlated EXISTS, so each is a
-- hash join: at provincial scale the OR form is quadratic.
recurrences as (
    select c.fiscal_year, c.family_case_id
    from closures as c
    inner join investigations as n on n.case_id = c.family_case_id
    where n.investigation_id <> c.investigation_id
      and n.opened_on > c.closed_on
      and n.opened_on < {{ add_to_date('month', 12, 'c.closed_on') }}
      and n.opened_on <= {{ as_of_date() }}
      and n.outcome_code = 'VER'
    union
    select c.fiscal_year, c.family_case_id
    from closures as c
    inner join investigations as n on n.caregiver_master_id = c.caregiver_master_id
    where n.investigation_id <> c.investigation_id
      and n.opened_on > c.closed_on
      and n.opened_on < {{ add_to_date('month', 12, 'c.closed_on') }}
      and n.opened_on <= {{ as_of_date() }}
      and n.outcome_code = 'VER'
)

select
    c.*,
    r.family_case_id is not null as recurred
from closures as c
left join recurrences as r on r.fiscal_year = c.fiscal_year and r.family_case_id = c.family_case_id
