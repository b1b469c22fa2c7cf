{#- Left join to the code_labels seed for one code set: the source stores short codes and
    people read labels. A join (not a scalar subquery) so big tables decode with one hash join. -#}
{% macro decode_join(code_set, code_column, alias) -%}
    left join {{ ref('code_labels') }} as {{ alias }}
        on {{ alias }}.code_set = '{{ code_set }}' and {{ alias }}.code = {{ code_column }}
{%- endmacro %}
