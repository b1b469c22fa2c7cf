{#- The reporting periods: every fiscal year (April–March) from the first entry to care up to the
    fiscal year containing the as-of date. -#}
with bounds as (
    select
        {{ fiscal_year('min(entry_date)') }} as first_fy,
        {{ fiscal_year(as_of_date()) }} as last_fy
    from {{ ref('int_care_episodes_built') }}
)

select
    fy as fiscal_year,
    'FY' || fy || '-' || lpad(((fy + 1) % 100)::text, 2, '0') as fiscal_year_label,
    make_date(fy, 4, 1) as period_start,
    make_date(fy + 1, 3, 31) as period_end
from bounds, generate_series(coalesce(bounds.first_fy, bounds.last_fy), bounds.last_fy) as fy
