{{ config(alias='approvals_waiting', post_hook=["{{ reporting_view_hook() }}"]) }}
select * from {{ ref('fct_approvals_waiting') }}
