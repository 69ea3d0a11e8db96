{#- Ranks are competition ranks without holes: within each partition, a row's
    rank is 1 + the number of rows with a strictly better value (ties share a
    rank, the next rank skips: 1, 1, 3), and its dense rank is 1 + the number of
    distinct better values (1, 1, 2). Higher values rank first. -#}
{% test rank_continuity(model, partition_by, value_column, rank_column, dense_rank_column) %}

with

base as (
    select
        {{ partition_by | join(', ') }},
        {{ value_column }} as rank_value,
        {{ rank_column }} as rank_no,
        {{ dense_rank_column }} as dense_rank_no
    from {{ model }}
),

counted as (
    select
        *,
        -- rows at or above this value minus the ties = rows strictly above
        count(*) over (partition by {{ partition_by | join(', ') }} order by rank_value desc)
        - count(*) over (partition by {{ partition_by | join(', ') }}, rank_value) as rows_above
    from base
),

distinct_values as (
    select
        {{ partition_by | join(', ') }},
        rank_value,
        row_number() over (partition by {{ partition_by | join(', ') }} order by rank_value desc) as value_position
    from (select distinct {{ partition_by | join(', ') }}, rank_value from base) as d
),

final as (
    select c.*
    from counted as c
    inner join distinct_values as d
        on
            {% for p in partition_by %}c.{{ p }} = d.{{ p }} and {% endfor %}c.rank_value = d.rank_value
    where c.rank_no <> c.rows_above + 1 or c.dense_rank_no <> d.value_position
)

select * from final

{% endtest %}
