{#- The warehouse's "today": one row in int_as_of_date (the var, or the latest source
    updated_at date in raw). Never current_date, so builds are reproducible from their data. -#}
{% macro as_of_date() -%}
    (select as_of_date from {{ ref('int_as_of_date') }})
{%- endmacro %}

{#- Ontario's fiscal year starts on April 1: the fiscal year of a date is named by the calendar
    year it starts in (2023 = 2023-04-01 .. 2024-03-31). -#}
{% macro fiscal_year(date_expr) -%}
    (extract(year from ({{ date_expr }}) - interval '3 months'))::int
{%- endmacro %}

{#- The day a person turns 18 (age arithmetic in PostgreSQL handles 29 February). -#}
{% macro eighteenth_birthday(birth_date_expr) -%}
    (({{ birth_date_expr }}) + interval '18 years')::date
{%- endmacro %}

{#- Whole years between two dates (age on a given day). -#}
{% macro age_years(birth_date_expr, on_date_expr) -%}
    extract(year from age(({{ on_date_expr }}), ({{ birth_date_expr }})))::int
{%- endmacro %}
