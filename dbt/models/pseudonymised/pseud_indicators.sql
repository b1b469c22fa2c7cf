{{ config(alias='indicators', post_hook=["{{ pseudonymised_hook() }}"]) }}
select * from {{ ref('fct_indicators') }}
