{#- Catalogue history: the versions of one key never overlap and every
    version ends after it begins (valid_from inclusive, valid_to exclusive). -#}
{% test history_not_overlapping(model, key_columns) %}

with versions as (

    select
        {{ key_columns | join(', ') }},
        valid_from,
        valid_to,
        lead(valid_from) over (
            partition by {{ key_columns | join(', ') }} order by valid_from
        ) as next_valid_from
    from {{ model }}

),

final as (

    select * from versions
    where
        (valid_to is not null and valid_to <= valid_from)
        or (next_valid_from is not null and (valid_to is null or valid_to > next_valid_from))

)

select * from final

{% endtest %}
