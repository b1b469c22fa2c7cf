{{ config(alias='payments', post_hook=["{{ reporting_view_hook() }}"]) }}
select * from {{ ref('fct_payments') }}
