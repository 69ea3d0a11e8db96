{#- Generic data test: the column is never negative (suspect amounts). -#}
{% test rule_non_negative(model, column_name) %}
    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} < 0
{% endtest %}
