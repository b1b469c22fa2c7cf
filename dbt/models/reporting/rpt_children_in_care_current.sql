{{ config(alias='children_in_care_current', post_hook=["{{ reporting_view_hook() }}"]) }}
select * from {{ ref('children_in_care_current') }}
