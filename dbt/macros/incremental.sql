{#- Incremental models that rebuild whole partitions for what the latest extract batches touched.

    Every change extract/ lands in raw (insert, update, soft delete, hard delete marked _deleted)
    stamps the row with the batch's _batch_id, so "rows with _batch_id > the batch this model last
    saw" is exactly what changed since its last build. Each such model
      - pre-hook: writes a plan (temp table, dropped at commit) with the batch it last saw
        (private.incremental_marks), the newest batch now, the as-of date it last built and
        today's; works out the partitions to rebuild (a child's rows; a worker's days from the first
        day that differs) and deletes them, plus every day after the last as-of date;
      - select: the rows of those partitions and the new days;
      - post-hook: records the batch and as-of date it has now seen, in the same transaction as the
        rows (a failed build records nothing and the next night redoes the work).
    The temp tables of a plan are analysed as soon as they are written: without statistics the
    planner guesses thousands of rows and hash-joins them against a full scan of the fact (16 s
    instead of an index look-up at provincial scale).
    With no mark (first build after this design, or the mark was lost) the plan rebuilds every
    partition, which is a full rebuild. A --full-refresh ignores the mark. Limits: seeds (code
    labels) changing, or a source row moved to another child/worker/case by rewriting its key
    column in place, need a --full-refresh (the weekly one). -#}

{#- on-run-start: where each incremental model records what it has seen. -#}
{% macro create_incremental_marks() -%}
    {%- if target.type != 'postgres' %}select 1{% else -%}
    create table if not exists private.incremental_marks (
        model text primary key,
        batch_id bigint not null,
        as_of_date date not null,
        recorded_at timestamptz not null default now()
    )
    {%- endif %}
{%- endmacro %}

{% macro plan_table() -%}pg_temp.{{ adapter.quote('cww_plan__' ~ this.identifier) }}{%- endmacro %}

{#- The newest extract batch whose rows are all landed: before any batch still running (so rows
    of a batch landing during the build are read next time). Without extract_meta (hand-made raw
    in tests), the largest _batch_id in the raw tables the model reads. -#}
{% macro latest_landed_batch(tables) -%}
    {%- set batches = adapter.get_relation(database=target.database, schema='extract_meta', identifier='batches') -%}
    {%- if batches -%}
    (select coalesce(min(batch_id) filter (where status = 'running') - 1, max(batch_id), 0) from {{ batches }})
    {%- else -%}
    (select coalesce(max(b), 0) from (
        {%- for t in tables %}
        select max(_batch_id) as b from {{ source('cpin', t) }}{% if not loop.last %} union all{% endif %}
        {%- endfor %}
    ) as batches)
    {%- endif -%}
{%- endmacro %}

{#- pre-hook part 1: the plan. since_batch / since_as_of are null when every partition must be
    rebuilt (table just created, --full-refresh, or no mark). -#}
{% macro incremental_plan(tables) -%}
    drop table if exists {{ plan_table() }};
    create temp table {{ plan_table() }} on commit drop as
    select
        {{ latest_landed_batch(tables) }} as upto_batch,
        m.batch_id as since_batch,
        least(m.as_of_date, a.as_of_date) as since_as_of,
        a.as_of_date
    from {{ ref('int_as_of_date') }} as a
    left join private.incremental_marks as m
        on m.model = '{{ this.identifier }}' and {{ 'true' if is_incremental() else 'false' }}
{%- endmacro %}

{#- post-hook: what this build has seen. -#}
{% macro record_incremental_mark() -%}
    insert into private.incremental_marks (model, batch_id, as_of_date)
    select '{{ this.identifier }}', upto_batch, as_of_date from {{ plan_table() }}
    on conflict (model) do update
        set batch_id = excluded.batch_id, as_of_date = excluded.as_of_date, recorded_at = now()
{%- endmacro %}

{#- pre-hook: delete everything when the plan rebuilds everything, else the days after the last
    as-of date (date_column; none for models without days). Two statements, each a plain
    comparison with a value the plan holds, so that the date index serves the second (a join
    with the plan or an OR would scan the whole table). -#}
{% macro delete_rebuilt_days(date_column) -%}
    delete from {{ this }} where (select since_batch is null from {{ plan_table() }});
    {%- if date_column %}
    delete from {{ this }} where {{ date_column }} > (select since_as_of from {{ plan_table() }});
    {%- endif %}
{%- endmacro %}

{#- Rows of raw.<table> changed since the plan's batch (none when the plan rebuilds everything). -#}
{% macro changed_since(table, alias='r') -%}
    {{ source('cpin', table) }} as {{ alias }}
    where {{ alias }}._batch_id > (select since_batch from {{ plan_table() }})
{%- endmacro %}

{#- fct_children_in_care_daily: a child's days depend only on that child's placements (and the
    episode they belong to, i.e. the CIC case). Touched: children with a placement changed, or a
    placement on a case that changed. Their rows are recomputed whole and replaced where they
    differ (get_incremental_replace_changed_sql); every other child only gets the days after the
    last as-of date. -#}
{% macro children_in_care_daily_plan() -%}
    {{ incremental_plan(['placement', 'case']) }};
    {%- if is_incremental() %}
    drop table if exists pg_temp.cww_touched_children;
    create temp table cww_touched_children on commit drop as
    select r.person_id as child_id from {{ changed_since('placement') }}
    union
    select p.person_id
    from {{ source('cpin', 'placement') }} as p
    where p.case_id in (select r.case_id from {{ changed_since('case') }});
    analyze pg_temp.cww_touched_children;
    {{ delete_rebuilt_days('care_date') }}
    {#- the touched children's rows that differ: strategy replace_changed, after the select -#}
    {%- endif %}
{%- endmacro %}

{#- fct_caseload_daily: a worker's rows up to a day depend only on their inputs up to that day
    (macros/caseload.sql: level changes and referrals per day, kept in caseload_inputs_table()
    between builds) and on the worker's own row and their supervisor's name. Touched: workers
    named by a changed assignment, case, placement (through the case's assignments),
    investigation, referral or worker row, and the supervisees of a changed worker. Their inputs
    are recomputed and compared with the stored ones: the worker's days are rebuilt from the first
    day whose inputs differ (all of them when the worker's own or supervisor's row changed), so a
    late correction of an old row rewrites the days it affects, not years. Every worker gets the
    days after the last as-of date. The stored inputs change in the same transaction as the rows. -#}
{% macro caseload_daily_plan() -%}
    {%- set inputs = caseload_inputs_table() -%}
    do $$
    begin
        if to_regclass('{{ inputs }}') is null then
            create table {{ inputs }} (
                worker_id integer not null, event_date date not null, d_open bigint, d_cic bigint,
                d_overdue bigint, new_referrals bigint);
            create index on {{ inputs }} (worker_id);
            -- no stored inputs: whatever the mark says, rebuild everything
            delete from private.incremental_marks where model = '{{ this.identifier }}';
        end if;
    end $$;
    {{ incremental_plan(['worker_assignment', 'case', 'placement', 'investigation', 'referral', 'worker']) }};
    {%- if is_incremental() %}
    drop table if exists pg_temp.cww_touched_workers;
    create temp table cww_touched_workers on commit drop as
    with changed_cases as (
        select r.case_id from {{ changed_since('case') }}
        union select r.case_id from {{ changed_since('placement') }}
        union select r.case_id from {{ changed_since('worker_assignment') }}
    ),
    touched as (
        select a.worker_id from {{ source('cpin', 'worker_assignment') }} as a
        where a.case_id in (select case_id from changed_cases)
        union select r.worker_id from {{ changed_since('worker_assignment') }}
        union select r.worker_id from {{ changed_since('investigation') }}
        union select r.intake_worker_id from {{ changed_since('referral') }}
    )
    select worker_id from touched where worker_id is not null;
    analyze pg_temp.cww_touched_workers;
    drop table if exists pg_temp.cww_renamed_workers;
    create temp table cww_renamed_workers on commit drop as
    select r.worker_id from {{ changed_since('worker') }}
    union
    select w.worker_id from {{ source('cpin', 'worker') }} as w
    where w.supervisor_id in (select r.worker_id from {{ changed_since('worker') }});
    analyze pg_temp.cww_renamed_workers;
    drop table if exists pg_temp.cww_new_inputs;
    create temp table cww_new_inputs on commit drop as
    {{ caseload_inputs(workers='pg_temp.cww_touched_workers') }};
    analyze pg_temp.cww_new_inputs;
    drop table if exists pg_temp.cww_input_changes;
    create temp table cww_input_changes on commit drop as
    select
        coalesce(n.worker_id, o.worker_id) as worker_id,
        coalesce(n.event_date, o.event_date) as event_date,
        n.worker_id is not null as present,
        n.d_open, n.d_cic, n.d_overdue, n.new_referrals
    from pg_temp.cww_new_inputs as n
    full outer join (
        select * from {{ inputs }} where worker_id in (select worker_id from pg_temp.cww_touched_workers)
    ) as o on o.worker_id = n.worker_id and o.event_date = n.event_date
    where n.worker_id is null or o.worker_id is null
       or (n.d_open, n.d_cic, n.d_overdue, n.new_referrals)
          is distinct from (o.d_open, o.d_cic, o.d_overdue, o.new_referrals);
    analyze pg_temp.cww_input_changes;
    drop table if exists pg_temp.cww_rebuild_from;
    create temp table cww_rebuild_from on commit drop as
    select worker_id, min(from_date) as from_date
    from (
        select worker_id, event_date as from_date from pg_temp.cww_input_changes
        union all
        select worker_id, '0001-01-01'::date from pg_temp.cww_renamed_workers
    ) as d
    group by worker_id;
    analyze pg_temp.cww_rebuild_from;
    delete from {{ inputs }} as i
    using pg_temp.cww_input_changes as c
    where i.worker_id = c.worker_id and i.event_date = c.event_date;
    insert into {{ inputs }}
    select worker_id, event_date, d_open, d_cic, d_overdue, new_referrals
    from pg_temp.cww_input_changes where present;
    {{ delete_rebuilt_days('activity_date') }}
    -- (the redundant bound on activity_date lets the index skip the years nobody changed)
    delete from {{ this }} as t
    using pg_temp.cww_rebuild_from as r
    where r.worker_id = t.worker_id and t.activity_date >= r.from_date
      and t.activity_date >= (select min(from_date) from pg_temp.cww_rebuild_from);
    {%- endif %}
    -- Rebuilding everything: every worker's inputs afresh.
    do $$
    begin
        if (select since_batch is null from {{ plan_table() }}) then
            truncate {{ inputs }};
            insert into {{ inputs }}
            {{ caseload_inputs() | replace('$$', '') }};
            analyze {{ inputs }};
        end if;
    end $$
{%- endmacro %}

{#- int_contacts_summarised: a child's last contact depends on the notes naming them and the notes
    on their episodes' cases. Touched: persons named by a changed note; children of the episodes
    of a changed note's case, of a changed case and of a changed placement (episode membership);
    and, as the as-of date moves, those of notes dated after the last as-of date. Those dated
    notes are kept aside (contact_notes_ahead_table(): notes dated after the as-of date of the
    build that landed them) instead of being looked for by date in all of raw.contact_note: a
    date condition there is a full scan of millions of notes every night (8-20 s at provincial
    scale, the largest cost of this model). A note dated after the old as-of date is either
    changed since (changed_since) or unchanged and therefore already aside. -#}
{% macro contact_notes_ahead_table() -%}private.contact_notes_ahead{%- endmacro %}

{% macro contacts_summarised_plan() -%}
    {%- set ahead = contact_notes_ahead_table() -%}
    do $$
    begin
        if to_regclass('{{ ahead }}') is null then
            create table {{ ahead }} (
                contact_note_id bigint primary key, person_id bigint, case_id bigint, contact_on date);
            -- nothing set aside yet: whatever the mark says, rebuild everything
            delete from private.incremental_marks where model = '{{ this.identifier }}';
        end if;
    end $$;
    {{ incremental_plan(['contact_note', 'placement', 'case']) }};
    {%- if is_incremental() %}
    drop table if exists pg_temp.cww_touched_contacts;
    create temp table cww_touched_contacts on commit drop as
    with notes as (
        select r.person_id, r.case_id from {{ changed_since('contact_note') }}
        union all
        select a.person_id, a.case_id from {{ ahead }} as a
        where a.contact_on > (select since_as_of from {{ plan_table() }})
    ),
    cases as (
        select case_id from notes
        union select r.case_id from {{ changed_since('case') }}
        union select r.case_id from {{ changed_since('placement') }}
    )
    select person_id as child_id from notes where person_id is not null
    union
    select p.person_id from {{ source('cpin', 'placement') }} as p
    where p.case_id in (select case_id from cases) and p.person_id is not null;
    analyze pg_temp.cww_touched_contacts;
    {{ delete_rebuilt_days(none) }}
    delete from {{ this }} where child_id in (select child_id from pg_temp.cww_touched_contacts);
    -- the notes aside after tonight: changed ones replaced, those the as-of date reached dropped
    delete from {{ ahead }}
    where contact_note_id in (select r.contact_note_id from {{ changed_since('contact_note') }})
       or contact_on <= (select as_of_date from {{ plan_table() }});
    insert into {{ ahead }}
    select r.contact_note_id, r.person_id, r.case_id, r.contact_at::date
    from {{ changed_since('contact_note') }}
      and not r._deleted and not coalesce(r.is_deleted, false)
      and r.contact_at::date > (select as_of_date from {{ plan_table() }});
    {%- endif %}
    -- Rebuilding everything: every note dated after the as-of date is set aside afresh.
    do $$
    begin
        if (select since_batch is null from {{ plan_table() }}) then
            truncate {{ ahead }};
            insert into {{ ahead }}
            select n.contact_note_id, n.person_id, n.case_id, n.contact_at::date
            from {{ source('cpin', 'contact_note') }} as n
            where not n._deleted and not coalesce(n.is_deleted, false)
              and n.contact_at::date > (select as_of_date from {{ plan_table() }});
        end if;
    end $$
{%- endmacro %}

{#- fct_payments: a payment's row depends on the payment, its placement and its provider.
    Touched: changed payments, and the payments of a changed placement or provider. -#}
{% macro payments_plan() -%}
    {{ incremental_plan(['payment', 'placement', 'provider']) }};
    {%- if is_incremental() %}
    drop table if exists pg_temp.cww_touched_payments;
    create temp table cww_touched_payments on commit drop as
    select r.payment_id from {{ changed_since('payment') }}
    union
    select p.payment_id from {{ source('cpin', 'payment') }} as p
    where p.placement_id in (select r.placement_id from {{ changed_since('placement') }})
       or p.provider_id in (select r.provider_id from {{ changed_since('provider') }});
    analyze pg_temp.cww_touched_payments;
    {{ delete_rebuilt_days(none) }}
    delete from {{ this }} where payment_id in (select payment_id from pg_temp.cww_touched_payments);
    {%- endif %}
{%- endmacro %}

{#- post-hook of every intermediate and mart model: ANALYZE a table that was (re)built; an
    incremental model's nightly run changes a sliver of a big table (autovacuum keeps its
    statistics), and sampling 40 M rows for nothing costs seconds. -#}
{% macro analyze_if_rebuilt() -%}
    {%- if config.get('materialized') == 'incremental' and is_incremental() -%}
    do $$
    begin
        if to_regclass('{{ plan_table() }}') is null
           or (select since_batch is null from {{ plan_table() }}) then
            analyze {{ this }};
        end if;
    end $$
    {%- else -%}
    analyze {{ this }}
    {%- endif -%}
{%- endmacro %}

{#- Incremental strategy 'replace_changed' (fct_children_in_care_daily): the select holds every row
    of the touched partitions (config touched_partition: the column, and the temp table of touched
    values the pre-hook wrote) plus the new days. Deleting a touched child's rows and writing them
    all again costs about 800 row deletions per child, scattered over a 42 M-row table (21 s after
    a four-day catch-up at provincial scale), when a change usually moves a few days. So: delete
    only the touched partitions' rows the select no longer has (changed or gone), then insert only
    the select's rows not already there. unique_key is the row's key (equality, for a hash
    anti-join); the other columns compare with IS NOT DISTINCT FROM. The result is the same table
    as delete-and-append (tests/test_dbt_incremental.py compares it with a --full-refresh). -#}
{% macro get_incremental_replace_changed_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set temp = arg_dict['temp_relation'] -%}
    {%- set keys = config.get('unique_key') -%}
    {%- set part = config.get('touched_partition') -%}
    {%- set names = arg_dict['dest_columns'] | map(attribute='name') | list -%}
    {%- set cols = arg_dict['dest_columns'] | map(attribute='quoted') | join(', ') -%}
    {%- set touched_rows -%}
        {{ adapter.quote(part['column']) }} in (select {{ adapter.quote(part['column']) }} from {{ part['relation'] }})
    {%- endset -%}
    analyze {{ temp }};
    delete from {{ target }} as t
    where t.{{ touched_rows }}
      and not exists (
        select 1 from {{ temp }} as n
        where {% for c in names -%}
            n.{{ adapter.quote(c) }} {{ '=' if c in keys else 'is not distinct from' }} t.{{ adapter.quote(c) }}
            {%- if not loop.last %} and {% endif %}
        {%- endfor %}
      );
    insert into {{ target }} ({{ cols }})
    select {{ cols }} from {{ temp }}
    except all
    select {{ cols }} from {{ target }} where {{ touched_rows }}
{%- endmacro %}
