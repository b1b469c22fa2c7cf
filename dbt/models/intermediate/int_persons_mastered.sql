{#- person_id → master_person_id. Uses the duplicate-matching output of data_quality/ when it
    exists (var person_match_schema.person_match_table, columns person_id, master_person_id);
    before that exists every person is their own master. Resolved at run time with
    adapter.get_relation, so the same project builds before and after matching lands. -#}
{#- source() here records the lineage (Dagster orders the matcher before this model); whether the
    relation exists is only asked at run time. -#}
{%- set declared = source('data_quality', 'person_match') -%}
{%- set match = none -%}
{%- if execute -%}
    {%- set match = adapter.get_relation(database=declared.database, schema=declared.schema,
                                         identifier=declared.identifier) -%}
{%- endif %}
select
    p.person_id,
    {%- if match %}
    coalesce(m.master_person_id, p.person_id) as master_person_id,
    m.master_person_id is not null and m.master_person_id <> p.person_id as is_merged
    {%- else %}
    p.person_id as master_person_id,
    false as is_merged
    {%- endif %}
from {{ ref('stg_cpin__persons') }} as p
{%- if match %}
left join (
    select distinct on (person_id) person_id::bigint as person_id, master_person_id::bigint as master_person_id
    from {{ match }}
    order by person_id, master_person_id
) as m on m.person_id = p.person_id
{%- endif %}
