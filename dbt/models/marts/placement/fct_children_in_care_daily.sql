{#- One row per child per day in care (the days-of-care expansion), including days on a trial
    home visit, runaway or respite (the child is still in care). Incremental: each run rebuilds
    the trailing var('daily_lookback_days') days up to the as-of date (late and back-dated
    changes); a --full-refresh rebuilds history. Should two placement rows of a child overlap
    (a source error the singular tests report), the later-started one wins the day. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='care_date',
    on_schema_change='fail',
    indexes=[{'columns': ['care_date']}, {'columns': ['agency_id', 'care_date']}]
) }}

with window_bounds as (
    select
        {% if is_incremental() -%}
        coalesce(
            (select max(care_date) from {{ this }}) - {{ var('daily_lookback_days') }},
            '0001-01-01'::date
        )
        {%- else -%}
        '0001-01-01'::date
        {%- endif %} as from_date,
        {{ as_of_date() }} as to_date
),

days as (
    select
        d::date as care_date,
        s.child_id,
        s.episode_id,
        s.placement_id,
        s.agency_id,
        s.provider_id,
        s.placement_type_code,
        s.is_placement,
        s.days_of_care_group,
        s.start_date
    from {{ ref('int_placements_sequenced') }} as s
    cross join window_bounds as b
    cross join lateral generate_series(
        greatest(s.start_date, b.from_date),
        least(coalesce(s.end_date, b.to_date + 1), b.to_date + 1) - 1,
        interval '1 day'
    ) as d
    where coalesce(s.end_date, b.to_date + 1) > b.from_date
      and s.start_date <= b.to_date
)

select distinct on (care_date, child_id)
    care_date,
    child_id,
    episode_id,
    placement_id,
    agency_id,
    provider_id,
    placement_type_code,
    is_placement,
    days_of_care_group,
    {{ fiscal_year('care_date') }} as fiscal_year
from days
order by care_date, child_id, start_date desc, placement_id desc
