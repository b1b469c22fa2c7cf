{#- The warehouse's "today": one row in int_as_of_date (the var, or the latest source
    updated_at date in raw). Never current_date, so builds are reproducible from their data. -#}
{% macro as_of_date() -%}
    (select as_of_date from {{ ref('int_as_of_date') }})
{%- endmacro %}

{#- Date arithmetic goes through dbt's cross-database macros (dbt.dateadd, dbt.datediff,
    dbt.date_trunc, dbt.type_int) so the models compile for another adapter (PORTABILITY.md). -#}

{#- A date plus n date parts, as a date. -#}
{% macro add_to_date(datepart, n, date_expr) -%}
    cast({{ dbt.dateadd(datepart, n, date_expr) }} as date)
{%- endmacro %}

{#- Ontario's fiscal year starts on April 1: the fiscal year of a date is named by the calendar
    year it starts in (2023 = 2023-04-01 .. 2024-03-31). -#}
{% macro fiscal_year(date_expr) -%}
    cast(extract(year from {{ dbt.dateadd('month', -3, '(' ~ date_expr ~ ')') }}) as {{ dbt.type_int() }})
{%- endmacro %}

{#- The day a person turns 18 (date arithmetic handles 29 February: the 28th in common years). -#}
{% macro eighteenth_birthday(birth_date_expr) -%}
    {{ add_to_date('year', 18, '(' ~ birth_date_expr ~ ')') }}
{%- endmacro %}

{#- Whole years between two dates (age on a given day). PostgreSQL has age(); elsewhere: the
    difference in calendar years, less one if the birthday has not come yet that year. -#}
{% macro age_years(birth_date_expr, on_date_expr) -%}
    {{ return(adapter.dispatch('age_years', 'cww')(birth_date_expr, on_date_expr)) }}
{%- endmacro %}

{% macro postgres__age_years(birth_date_expr, on_date_expr) -%}
    extract(year from age(({{ on_date_expr }}), ({{ birth_date_expr }})))::int
{%- endmacro %}

{% macro default__age_years(birth_date_expr, on_date_expr) -%}
    {%- set years = dbt.datediff('(' ~ birth_date_expr ~ ')', '(' ~ on_date_expr ~ ')', 'year') -%}
    cast({{ years }} - case
        when {{ dbt.dateadd('year', years, '(' ~ birth_date_expr ~ ')') }} > ({{ on_date_expr }}) then 1 else 0
    end as {{ dbt.type_int() }})
{%- endmacro %}
