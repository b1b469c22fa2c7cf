{#- The warehouse's "today" (one row). var('as_of_date') when given, else the latest source
    updated_at date landed in raw. Never current_date: the same raw data builds the same marts.
    When extract/'s watermark table exists (it records, per table, the greatest source updated_at
    landed) it answers in one small read; otherwise every raw table is scanned for its maximum
    (a full scan of tens of millions of contact notes at provincial scale). -#}
{%- set tables = ['agency', 'office', 'worker', 'person', 'person_address', 'person_relationship', 'case',
                  'case_participant', 'worker_assignment', 'referral', 'investigation', 'legal_status',
                  'provider', 'placement', 'payment', 'contact_note'] -%}
{%- set watermarks = none -%}
{%- if execute -%}
    {%- set watermarks = adapter.get_relation(database=target.database, schema='extract_meta',
                                              identifier='watermarks') -%}
{%- endif -%}
{%- if var('as_of_date') %}
select cast('{{ var("as_of_date") }}' as date) as as_of_date
{%- else %}
with latest as (
    {%- if watermarks %}
    select max(watermark) as updated_at from {{ watermarks }}
    where table_name in ({% for t in tables %}'{{ t }}'{% if not loop.last %}, {% endif %}{% endfor %})
    {%- else %}
    {%- for t in tables %}
    select max(_source_updated_at) as updated_at from {{ source('cpin', t) }}
    {%- if not loop.last %} union all{% endif %}
    {%- endfor %}
    {%- endif %}
)
select
    -- Empty raw: fail with a message rather than build marts "as of" nothing.
    -- (the concatenation keeps PostgreSQL from folding the failing cast at plan time)
    case
        when max(updated_at) is null then cast('raw is empty: run `cww extract` first' || repeat('', count(*)::int) as date)
        else max(updated_at)::date
    end as as_of_date
from latest
{%- endif %}
