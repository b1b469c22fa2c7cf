{{ config(alias='agencies', post_hook=["{{ reporting_view_hook() }}"]) }}
select agency_id, agency_code, agency_name, agency_region, is_indigenous, joined_on, migration_wave
from {{ ref('dim_agency') }}
