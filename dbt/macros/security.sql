{#- Security layer helpers (see models/reporting/_reporting.yml for the design).

    Agencies are separated by PostgreSQL row-level security on the mart tables that the
    reporting views read; the views are security_invoker so the policies see the agency's own
    login role. Role names follow cww/security.py: <prefix>_agency_<slug>, <prefix>_analyst,
    and the group <prefix>_agency_reader every agency login belongs to. Passwords are set by
    cww/transform.py (derived from CWW_ROLE_SECRET), never here, so no secret reaches dbt's
    compiled SQL or logs. -#}

{% macro agency_reader_role() -%}{{ var('role_prefix') }}_agency_reader{%- endmacro %}
{% macro analyst_role() -%}{{ var('role_prefix') }}_analyst{%- endmacro %}

{#- The SQL expression for an agency's login role name; must match cww.security.agency_role. -#}
{% macro agency_role_name(agency_code_expr) -%}
    '{{ var("role_prefix") }}_agency_' || btrim(regexp_replace(lower({{ agency_code_expr }}), '[^a-z0-9]+', '_', 'g'), '_')
{%- endmacro %}

{#- on-run-start: group roles, schemas, the function policies call and the pseudonym key.
    Idempotent: every statement checks before it creates. -#}
{% macro prepare_security() %}
    {#- PostgreSQL only (roles, RLS): a second adapter only compiles the models (PORTABILITY.md). -#}
    {% if execute and target.type == 'postgres' %}
    {% set sql %}
    do $$
    begin
        if not exists (select 1 from pg_roles where rolname = '{{ agency_reader_role() }}') then
            create role {{ adapter.quote(agency_reader_role()) }} nologin;
        end if;
        if not exists (select 1 from pg_roles where rolname = '{{ analyst_role() }}') then
            create role {{ adapter.quote(analyst_role()) }} login;
        end if;
    exception when duplicate_object then null;  -- a concurrent build created it first
    end $$;
    -- Planner statistics for raw: a load of millions of rows leaves them stale until autovacuum
    -- catches up, and every staging view plans against them. Analyze what changed by > 10 %.
    do $$
    declare t record;
    begin
        for t in select relid::regclass as rel from pg_stat_user_tables
                 where schemaname = 'raw'
                   and (coalesce(last_analyze, last_autoanalyze) is null
                        or n_mod_since_analyze > 0.1 * greatest(n_live_tup, 1000)) loop
            execute format('analyze %s', t.rel);
        end loop;
    end $$;
    create schema if not exists reporting;
    create schema if not exists marts;
    create schema if not exists pseudonymised;
    create schema if not exists private;
    revoke all on schema private from public;
    create table if not exists private.pseudonym_key (
        id boolean primary key default true check (id),
        key text not null,
        set_at timestamptz not null default now()
    );
    -- A random key the first time; `cww dbt` replaces it with CWW_PSEUDONYM_SECRET when set,
    -- so pseudonymous keys stay stable across rebuilds of the warehouse.
    insert into private.pseudonym_key (key)
    select md5(random()::text || clock_timestamp()::text || pg_backend_pid()::text)
    where not exists (select 1 from private.pseudonym_key);
    -- plpgsql, so the body is not bound to reporting.agency_roles at creation time (that table
    -- is a model rebuilt by dbt; a SQL function would tie it to one relation).
    create or replace function reporting.current_agency_ids() returns smallint[]
        language plpgsql stable security invoker
        set search_path = pg_catalog
    as $fn$
    begin
        return coalesce(
            (select array_agg(agency_id) from reporting.agency_roles where role_name = current_user),
            '{}'::smallint[]);
    exception when undefined_table then
        return '{}'::smallint[];
    end $fn$;
    revoke all on function reporting.current_agency_ids() from public;
    -- Schema grants once here: concurrent GRANTs on one schema from parallel post-hooks fail
    -- with "tuple concurrently updated".
    grant usage on schema reporting to {{ adapter.quote(agency_reader_role()) }};
    grant usage on schema marts to {{ adapter.quote(agency_reader_role()) }};
    grant usage on schema pseudonymised to {{ adapter.quote(analyst_role()) }};
    grant execute on function reporting.current_agency_ids() to {{ adapter.quote(agency_reader_role()) }};
    {% endset %}
    {% do run_query(sql) %}
    {% endif %}
{% endmacro %}

{#- post-hook of every mart table a reporting view reads: enable row-level security with one
    policy for the agency readers and grant them SELECT (each such model also indexes agency_id). Runs in the same
    transaction as dbt's table swap, so the new table is never readable without its policy.
    allow_province: rows with a null agency_id (provincial aggregates) are visible to every
    agency. -#}
{% macro secure_by_agency(allow_province=false) -%}
    {%- set reader = adapter.quote(agency_reader_role()) -%}
    alter table {{ this }} enable row level security;
    drop policy if exists agency_isolation on {{ this }};
    create policy agency_isolation on {{ this }} as permissive for select to {{ reader }}
        using (agency_id = any (reporting.current_agency_ids()){% if allow_province %} or agency_id is null{% endif %});
    grant select on {{ this }} to {{ reader }};
{%- endmacro %}

{#- post-hook of every reporting view: run with the reader's rights, so the row-level security
    of the tables underneath applies to the agency's role (a plain view would run as its owner,
    who bypasses RLS). -#}
{% macro reporting_view_hook() -%}
    alter view {{ this }} set (security_invoker = true, security_barrier = true);
    grant select on {{ this }} to {{ adapter.quote(agency_reader_role()) }};
{%- endmacro %}

{#- post-hook of every pseudonymised table: the analyst role reads these and nothing else. -#}
{% macro pseudonymised_hook() -%}
    grant select on {{ this }} to {{ adapter.quote(analyst_role()) }};
{%- endmacro %}

{#- on-run-end: one LOGIN role per agency in reporting.agency_roles (created if missing, member of
    the reader group, bounded connections and statement time), and the analyst's limits.
    Idempotent; never drops a role (an agency leaving keeps its role until an admin removes it). -#}
{% macro sync_reporting_roles() %}
    {% if execute and target.type == 'postgres' %}
    {% set exists = adapter.get_relation(database=target.database, schema='reporting', identifier='agency_roles') %}
    {% set sql %}
    do $$
    declare r record;
    begin
        {% if exists %}
        for r in select role_name from reporting.agency_roles loop
            if not exists (select 1 from pg_roles where rolname = r.role_name) then
                begin
                    execute format('create role %I login', r.role_name);
                exception when duplicate_object then null;
                end;
            end if;
            execute format('alter role %I connection limit 20', r.role_name);
            execute format('alter role %I set statement_timeout = %L', r.role_name, '120s');
            execute format('grant %I to %I', '{{ agency_reader_role() }}', r.role_name);
        end loop;
        {% endif %}
        execute format('alter role %I connection limit 5', '{{ analyst_role() }}');
        execute format('alter role %I set statement_timeout = %L', '{{ analyst_role() }}', '60s');
        execute format('alter role %I set idle_in_transaction_session_timeout = %L', '{{ analyst_role() }}', '5min');
        execute format('alter role %I set lock_timeout = %L', '{{ analyst_role() }}', '5s');
        execute format('grant connect on database %I to %I', current_database(), '{{ analyst_role() }}');
        execute format('grant connect on database %I to %I', current_database(), '{{ agency_reader_role() }}');
    end $$;
    {% endset %}
    {% do run_query(sql) %}
    {% endif %}
{% endmacro %}
