{#- agency → login role mapping the row-level-security policies read (through
    reporting.current_agency_ids(), which runs with the caller's rights). Itself under row-level
    security: a role sees only its own mapping row, so no agency learns which others exist. -#}
{{ config(
    materialized='table',
    post_hook=[
        "alter table {{ this }} enable row level security",
        "create policy own_role_only on {{ this }} for select to {{ adapter.quote(agency_reader_role()) }} using (role_name = current_user)",
        "grant select on {{ this }} to {{ adapter.quote(agency_reader_role()) }}"
    ],
    indexes=[{'columns': ['role_name'], 'unique': true}]
) }}
select
    agency_id,
    agency_code,
    reporting_role as role_name
from {{ ref('dim_agency') }}
