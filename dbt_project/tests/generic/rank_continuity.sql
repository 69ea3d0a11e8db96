{#- Ranks are competition ranks without holes: within each partition, a row's
    rank is 1 + the number of rows with a strictly better value (ties share a
    rank, the next rank skips: 1, 1, 3), and its dense rank is 1 + the number of
    distinct better values (1, 1, 2). Higher values rank first.
    Window functions only: joining every row to the distinct values of its
    partition degenerated into a per-partition cross product at city scale
    (100,000 persons in one partition). Rows with a NULL value are not
    checked; they still count among the rows and values ranked above. -#}
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
        - count(*) over (partition by {{ partition_by | join(', ') }}, rank_value) as rows_above,
        -- 1 on one row of each distinct value: their running sum is the value's position
        case
            when row_number() over (partition by {{ partition_by | join(', ') }}, rank_value) = 1 then 1 else 0
        end as first_of_value
    from base
),

positioned as (
    select
        *,
        sum(first_of_value) over (
            partition by {{ partition_by | join(', ') }} order by rank_value desc
        ) as value_position
    from counted
),

final as (
    select *
    from positioned
    where
        rank_value is not null
        and (rank_no <> rows_above + 1 or dense_rank_no <> value_position)
)

select * from final

{% endtest %}
