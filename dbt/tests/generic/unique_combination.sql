{#- The combination of columns is unique (dbt_utils has this, but packages would need a download
    from the dbt hub at build time). The nightly build narrows it to the recent rows through
    macros/test_scope.sql, like every other test. -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
