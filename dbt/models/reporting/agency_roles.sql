{#- agency → login role mapping the row-level-security policies read (through
    reporting.current_agency_ids()). A table, readable by the agency reader group: it holds no
    child data, only which role belongs to which agency. -#}
{{ config(
    materialized='table',
    post_hook=["grant select on {{ this }} to {{ adapter.quote(agency_reader_role()) }}"],
    indexes=[{'columns': ['role_name'], 'unique': true}]
) }}
select
    agency_id,
    agency_code,
    reporting_role as role_name
from {{ ref('dim_agency') }}
