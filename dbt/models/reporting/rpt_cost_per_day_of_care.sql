{{ config(alias='cost_per_day_of_care', post_hook=["{{ reporting_view_hook() }}"]) }}
select * from {{ ref('fct_cost_per_day_of_care') }}
