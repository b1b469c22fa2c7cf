{#- A stable pseudonymous key: md5 of a secret key (private.pseudonym_key, readable by the
    warehouse owner only and never written into SQL text) and the id. Same id, same key, every
    night; without the secret the key cannot be recomputed from a known id. -#}
{% macro pseudonym(kind, id_expr) -%}
    md5((select key from private.pseudonym_key) || ':{{ kind }}:' || ({{ id_expr }})::text)
{%- endmacro %}
