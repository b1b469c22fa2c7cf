{#- Caseload per worker per day (supervisors roll up through supervisor_id): open cases carried as
    primary worker, children in care on those cases, new referrals taken at intake, and
    investigations open past their due date (macros/caseload.sql: computed from per-day inputs the
    pre-hook keeps in private.caseload_inputs). Days where a worker has nothing are not stored.
    Incremental by partition (macros/incremental.sql): a worker touched by the latest extract
    batches has their days rebuilt from the first day whose inputs changed; every worker gets the
    days after the last as-of date. Results equal a full rebuild (tests/test_dbt_incremental.py). -#}
-- depends_on: {{ source('cpin', 'worker_assignment') }}
-- depends_on: {{ source('cpin', 'case') }}
-- depends_on: {{ source('cpin', 'placement') }}
-- depends_on: {{ source('cpin', 'investigation') }}
-- depends_on: {{ source('cpin', 'referral') }}
-- depends_on: {{ source('cpin', 'worker') }}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook=["{{ caseload_daily_plan() }}"],
    post_hook=["{{ secure_by_agency() }}", "{{ record_incremental_mark() }}"],
    indexes=[{'columns': ['agency_id', 'activity_date']}, {'columns': ['activity_date']}]
) }}

{% if is_incremental() -%}
{{ caseload_daily_rows(
    default_from="(select case when since_batch is null then '0001-01-01'::date else since_as_of + 1 end from " ~ plan_table() ~ ")",
    to_date='(select as_of_date from ' ~ plan_table() ~ ')',
    from_dates='pg_temp.cww_rebuild_from') }}
{%- else -%}
{{ caseload_daily_rows(default_from="'0001-01-01'::date", to_date=as_of_date()) }}
{%- endif %}
