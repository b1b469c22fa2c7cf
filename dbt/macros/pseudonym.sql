{#- A stable pseudonymous key: md5 of a secret key (private.pseudonym_key, readable by the
    warehouse owner only and never written into SQL text) and the id. Same id, same key, every
    night; without the secret the key cannot be recomputed from a known id. -#}
{% macro pseudonym(kind, id_expr) -%}
    {{ dbt.hash(dbt.concat(['(select key from private.pseudonym_key)', "':" ~ kind ~ ":'", dbt.cast('(' ~ id_expr ~ ')', api.Column.translate_type('string'))])) }}
{%- endmacro %}
