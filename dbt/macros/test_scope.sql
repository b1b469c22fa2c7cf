{#- Data tests in the nightly build look at what the night changed, full builds at everything.

    The nightly invocation (cww.transform.nightly_options) sets var('test_rows_after_batch') to
    the newest extract batch the previous complete build had tested, and
    var('test_rows_updated_after') to that build's as-of date less a week (the source stamps late
    corrections up to a few days in the past). Then
      - tests on raw tables (sources) check the rows landed after that batch (_batch_id);
      - tests on staging views check the rows the source updated after that day (updated_at);
      - tests on the big incremental daily facts (var('nightly_test_date_columns')) check the
        trailing var('daily_test_window_days') days;
    everything else is tested whole. Without the var (a full build, CI, `cww dbt build`) every
    test reads every row. This overrides dbt's get_where_subquery (the macro that applies a
    test's `where` config), so a test's own `where` still applies on top. -#}
{% macro nightly_test_scope(relation) -%}
    {%- set after = var('test_rows_after_batch', none) -%}
    {%- if after is none or relation is string -%}
        {{ return('') }}
    {%- endif -%}
    {%- set dated = var('nightly_test_date_columns', {}) -%}
    {%- set updated_after = var('test_rows_updated_after', none) -%}
    {%- if relation.schema == 'raw' -%}
        {{ return('_batch_id > ' ~ (after | int)) }}
    {%- elif relation.schema == 'staging' and updated_after and execute
             and 'updated_at' in adapter.get_columns_in_relation(relation) | map(attribute='name') | list -%}
        {{ return("updated_at > '" ~ (updated_after | string | replace("'", "")) ~ "'::date") }}
    {%- elif relation.identifier in dated -%}
        {%- set col = dated[relation.identifier] -%}
        {{ return(col ~ ' > (select max(' ~ col ~ ') from ' ~ relation ~ ') - ' ~ var('daily_test_window_days')) }}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}

{% macro get_where_subquery(relation) -%}
    {%- set conditions = [config.get('where', ''), nightly_test_scope(relation)] | select | list -%}
    {%- if conditions -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ conditions | join(' and ') ~ ') dbt_subquery') -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
