{{ config(alias='duplicates_to_merge', post_hook=["{{ reporting_view_hook() }}"]) }}
{#- Duplicates to merge for the caller's agency (CSV report duplicates_to_merge), most certain
    first. Row-level security of marts.fct_duplicates_to_merge applies to the agency's login. -#}
select
    person_id,
    duplicate_person_id,
    match_probability,
    agency_id,
    agency_code,
    given_name,
    surname,
    birth_date,
    duplicate_agency_code,
    duplicate_given_name,
    duplicate_surname,
    duplicate_birth_date,
    agreeing_fields,
    same_master_person,
    is_other_agency
from {{ ref('fct_duplicates_to_merge') }}
order by match_probability desc, person_id, duplicate_person_id
