{#- Last worker contact with each child up to the as-of date: a contact note naming the child,
    or any note on the child's in-care (CIC) case. Incremental by partition
    (macros/incremental.sql): the children the latest extract batches touched are recomputed;
    results equal a full rebuild (tests/test_dbt_incremental.py). -#}
-- depends_on: {{ source('cpin', 'contact_note') }}
-- depends_on: {{ source('cpin', 'placement') }}
-- depends_on: {{ source('cpin', 'case') }}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook=["{{ contacts_summarised_plan() }}"],
    post_hook=["{{ record_incremental_mark() }}"],
    indexes=[{'columns': ['child_id']}]
) }}

{%- if is_incremental() %}
{#- Only the touched children: their episodes, then one pass over the notes for them. -#}
with episodes as (
    select episode_id, child_id
    from {{ ref('int_care_episodes_built') }}
    where child_id in (select child_id from pg_temp.cww_touched_contacts)
       or exists (select 1 from {{ plan_table() }} where since_batch is null)
),

notes as (
    select person_id, case_id, contact_on
    from {{ ref('stg_cpin__contact_notes') }}
    where contact_on <= {{ as_of_date() }}
      and (person_id in (select child_id from pg_temp.cww_touched_contacts)
           or case_id in (select episode_id from episodes)
           or exists (select 1 from {{ plan_table() }} where since_batch is null))
),

by_person as (
    select person_id as child_id, max(contact_on) as last_contact_on
    from notes
    where person_id is not null
      and (person_id in (select child_id from pg_temp.cww_touched_contacts)
           or exists (select 1 from {{ plan_table() }} where since_batch is null))
    group by person_id
),
{%- else %}
with episodes as (
    select episode_id, child_id from {{ ref('int_care_episodes_built') }}
),

notes as (
    select person_id, case_id, contact_on
    from {{ ref('stg_cpin__contact_notes') }}
    where contact_on <= {{ as_of_date() }}
),

by_person as (
    select person_id as child_id, max(contact_on) as last_contact_on
    from notes
    where person_id is not null
    group by person_id
),
{%- endif %}

by_case as (
    select e.child_id, max(n.contact_on) as last_contact_on
    from notes as n
    inner join episodes as e on e.episode_id = n.case_id
    group by e.child_id
)

select
    coalesce(p.child_id, c.child_id) as child_id,
    greatest(p.last_contact_on, c.last_contact_on) as last_contact_on
from by_person as p
full outer join by_case as c on c.child_id = p.child_id
