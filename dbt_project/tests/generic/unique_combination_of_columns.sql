{#- The combination of columns is unique over the model (NULLs compare equal).

    new_rows (optional) limits the check to the keys of the rows a build
    added, each compared with the whole model, so its cost follows the day's
    volume rather than the history (docs/dbt.md, "Tests on a growing
    history"). Rows already there were checked by the build that added them.
      latest_build     rows with the model's newest built_through_load_id
      since:<model>    staging rows with a load_id above the watermark of
                       intermediate.<model> (the rows its next build reads;
                       every row before its first build)
    (the modes of macros/tests/new_rows.sql).
    Keys compared with IN: the key columns are not null (tested). -#}
{% test unique_combination_of_columns(model, combination_of_columns, new_rows=none) %}

{%- set columns = combination_of_columns | join(', ') %}

with

{% if new_rows is not none -%}
new_keys as (

    select distinct {{ columns }}
    from {{ model }}
    where {{ new_rows_predicate(model, new_rows) }}

),

candidates as (

    select {{ columns }}
    from {{ model }}
    where ({{ columns }}) in (select {{ columns }} from new_keys)

),
{%- else -%}
candidates as (

    select {{ columns }}
    from {{ model }}

),
{%- endif %}

grouped as (

    select
        {{ columns }},
        count(*) as n_rows
    from candidates
    group by {{ columns }}

),

final as (

    select * from grouped
    where n_rows > 1

)

select * from final

{% endtest %}
