{#- The combination of columns is unique (dbt_utils has this, but packages would need a download
    from the dbt hub at build time). recent_days + date_column: check only the trailing days, so
    the nightly build does not re-test years of an incremental daily fact. -#}
{% test unique_combination(model, columns, date_column=none, recent_days=none) %}
select {{ columns | join(', ') }}, count(*) as n
from {{ model }}
{% if date_column and recent_days %}
where {{ date_column }} > (select max({{ date_column }}) from {{ model }}) - {{ recent_days }}
{% endif %}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
