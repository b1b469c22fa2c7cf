{{ config(alias='caseload_daily', post_hook=["{{ reporting_view_hook() }}"]) }}
select * from {{ ref('fct_caseload_daily') }}
