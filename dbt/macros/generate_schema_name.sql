{#- Models land in the schema they name (staging, intermediate, marts, reporting …) rather than
    dbt's default "<target schema>_<custom>": the schema names are a contract with the
    dashboards, reports and the security layer. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
