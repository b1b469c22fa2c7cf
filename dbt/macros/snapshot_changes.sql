{#- The select of a history snapshot that reads only what the latest extract batches changed.

    dbt's timestamp snapshot with hard-delete detection has to compare the whole source with the
    snapshot every night to find rows that disappeared (40 s for person addresses at provincial
    scale, the largest fixed cost of the nightly build). It need not: extract/ stamps every change
    it lands in raw (insert, update, soft delete, hard delete flagged _deleted) with the batch's
    _batch_id, and the snapshot keeps the batch each version came from (source_batch_id). So the
    select is
      - first build (no snapshot table yet): every live row of the staging view;
      - afterwards: the staging rows of keys changed in batches after the newest one the snapshot
        holds (up to the newest fully landed batch, so a batch still landing is read next time),
        plus, for keys deleted at the source (soft or hard), their current version again with
        is_deleted = true, stamped with the latest source time of that batch (at least a
        millisecond after the version it closes, so dbt's timestamp strategy takes it).
    A deletion is thus a new version flagged is_deleted, as dbt's `hard_deletes: new_record` does;
    "where was this child living on date X" reads versions valid on X and not is_deleted.
    Limit: a key restored at the source with an updated_at older than its deletion is not
    re-opened (timestamp strategy); the weekly full extract+rebuild does not change that, a
    `dbt snapshot` on a dropped snapshot table does. -#}
{% macro snapshot_changes(staging_model, table, key) -%}
    {%- set raw = source('cpin', table) -%}
    {%- set staging = ref(staging_model) -%}
    {%- set existing = load_relation(this) if execute else none -%}
    {%- if not existing %}
    select s.*, r._batch_id as source_batch_id, false as is_deleted
    from {{ staging }} as s
    join {{ raw }} as r on r.{{ key }} = s.{{ key }}
    {%- else %}
    {%- set columns = adapter.get_columns_in_relation(staging) | map(attribute='name') | list %}
    {#- The batch range as literals, read before the select is planned: compared with a subquery
        the planner assumes a third of raw changed and hash-joins full scans (30 s instead of an
        index look-up of the night's few thousand keys). -#}
    {%- set bounds = run_query('select coalesce(max(source_batch_id), 0) as since, '
                               ~ latest_landed_batch([table]) ~ ' as upto from ' ~ this) %}
    {%- set since, upto = bounds.rows[0][0], bounds.rows[0][1] %}
    with changed as (
        select r.{{ key }}, r._batch_id, r._deleted or coalesce(r.is_deleted, false) as gone,
            max(r._source_updated_at) over (partition by r._batch_id) as batch_time
        from {{ raw }} as r
        where r._batch_id > {{ since }} and r._batch_id <= {{ upto }}
    )
    select s.*, c._batch_id as source_batch_id, false as is_deleted
    from changed as c
    join {{ staging }} as s on s.{{ key }} = c.{{ key }}
    where not c.gone
    union all
    select
        {%- for col in columns %}
        {% if col == 'updated_at' -%}
        greatest(coalesce(c.batch_time, t.dbt_valid_from), t.dbt_valid_from + interval '1 millisecond') as updated_at
        {%- else -%}
        t.{{ adapter.quote(col) }}
        {%- endif %},
        {%- endfor %}
        c._batch_id as source_batch_id,
        true as is_deleted
    from changed as c
    join {{ this }} as t on t.{{ key }} = c.{{ key }} and t.dbt_valid_to is null and not t.is_deleted
    where c.gone
    {%- endif %}
{%- endmacro %}

{#- post-hook: the indexes the next night's select and dbt's merge look things up by (the newest
    batch held, a key's current version, a version by scd id), and statistics: without them the
    planner guesses 10,000 current versions and ANDs a full scan of the partial index into every
    look-up of dbt's merge (11 s for a few hundred changed addresses at provincial scale). Analysed
    once, when the table has no statistics yet (autovacuum is off on this machine's server): the
    planner scales the row counts by the table's current size, and the night's few hundred
    versions do not change the distributions. -#}
{% macro snapshot_indexes(key) -%}
    create index if not exists {{ adapter.quote(this.identifier ~ '__source_batch_id') }}
        on {{ this }} (source_batch_id);
    create index if not exists {{ adapter.quote(this.identifier ~ '__current') }}
        on {{ this }} ({{ key }}) where dbt_valid_to is null;
    create index if not exists {{ adapter.quote(this.identifier ~ '__scd_id') }}
        on {{ this }} (dbt_scd_id);
    do $$ begin
        if not exists (select 1 from pg_stats where schemaname = '{{ this.schema }}'
                       and tablename = '{{ this.identifier }}') then
            analyze {{ this }};
        end if;
    end $$
{%- endmacro %}

{#- dbt's snapshot compares the select with the snapshot's current versions, which it reads into
    a CTE that PostgreSQL materialises whole (two million person addresses, 4 s a night) although
    the select holds a few hundred keys. With hard_deletes 'ignore' a current version whose key is
    not in the select takes no part in the result, so reading only those keys' versions changes
    nothing but the cost. dbt's own macro still writes the SQL: it is handed the snapshot table as
    a subquery limited to the select's keys (snapshot_query is the CTE dbt defines before it). -#}
{% macro postgres__snapshot_staging_table(strategy, source_sql, target_relation) -%}
    {%- set key = strategy.unique_key -%}
    {%- if strategy.hard_deletes == 'ignore' and key is string -%}
        {%- set current_of_changed_keys -%}
            (select * from {{ target_relation }} where {{ key }} in (select {{ key }} from snapshot_query)) as cww_current
        {%- endset -%}
        {{ default__snapshot_staging_table(strategy, source_sql, current_of_changed_keys) }}
    {%- else -%}
        {{ default__snapshot_staging_table(strategy, source_sql, target_relation) }}
    {%- endif -%}
{%- endmacro %}
