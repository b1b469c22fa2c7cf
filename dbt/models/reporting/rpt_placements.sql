{{ config(alias='placements', post_hook=["{{ reporting_view_hook() }}"]) }}
select * from {{ ref('fct_placements') }}
