{#- The as-of date the reporting layer describes. No agency data: a plain view (runs as its owner)
    readable by agency roles and the analyst. -#}
{{ config(alias='as_of_date', post_hook=[
    "grant select on {{ this }} to {{ adapter.quote(agency_reader_role()) }}"
]) }}
select as_of_date from {{ ref('int_as_of_date') }}
