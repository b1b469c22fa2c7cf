{{ config(alias='indicators', post_hook=["{{ reporting_view_hook() }}"]) }}
select
    geography_code as agency_code,
    indicator_name as indicator,
    indicator_code,
    indicator_number,
    fiscal_year,
    fiscal_year_label,
    period_start,
    period_end,
    geography_level,
    agency_id,
    numerator,
    denominator,
    value,
    unit,
    higher_is_better,
    observation_complete
from {{ ref('fct_indicators') }}
