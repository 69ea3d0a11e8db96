-- noqa: disable=LT02
-- (Jinja-generated SQL: sqlfluff cannot judge indentation across template loops.)
{#- Reconciliation: aggregates of the model equal aggregates of another
    relation (e.g. a pre-aggregated mart against the detail it counts).
    `pairs`: a list of {got: <aggregate over model>, want: <aggregate over to>};
    a failing row shows both values of every pair. -#}
{% test totals_match(model, to, pairs) %}

with

got as (
    select
        {%- for p in pairs %}
            {{ p.got }} as value_{{ loop.index }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ model }}
),

want as (
    select
        {%- for p in pairs %}
            {{ p.want }} as value_{{ loop.index }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ to }}
)

select
    {%- for p in pairs %}
        got.value_{{ loop.index }} as got_{{ loop.index }},
        want.value_{{ loop.index }} as want_{{ loop.index }}{{ "," if not loop.last }}
    {%- endfor %}
from got
cross join want
where
    {%- for p in pairs %}
        {{ "or " if not loop.first }}got.value_{{ loop.index }} is distinct from want.value_{{ loop.index }}
    {%- endfor %}

{% endtest %}
