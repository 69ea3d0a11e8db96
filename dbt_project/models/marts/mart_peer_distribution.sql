{{ config(
    indexes=[
        {'columns': ['stat_month', 'hosp_lv']},
    ]
) }}

-- 费用分布 percentiles of the fee per outpatient visit (every non-inpatient
-- visit, pharmacy sales included) and per inpatient stay, by month, institution
-- level and 3-character disease category; dise_category '*' = all categories.

with

visits as (
    select
        stat_month,
        hosp_lv,
        dise_category,
        case when is_inpatient then 'fee_per_stay' else 'fee_per_visit' end as measure,
        total_fee
    from {{ ref('fct_visits') }}
    where hosp_lv is not null
),

aggregated as (
    select
        stat_month,
        hosp_lv,
        measure,
        dise_category,
        grouping(dise_category) as all_categories,
        count(*) as sample_size,
        round(avg(total_fee), 2) as mean_value,
        min(total_fee) as min_value,
        round(cast(percentile_cont(0.5) within group (order by total_fee) as numeric), 2) as p50,
        round(cast(percentile_cont(0.9) within group (order by total_fee) as numeric), 2) as p90,
        round(cast(percentile_cont(0.99) within group (order by total_fee) as numeric), 2) as p99,
        max(total_fee) as max_value
    from visits
    group by stat_month, hosp_lv, measure, grouping sets ((), (dise_category))
),

final as (
    select
        stat_month,
        hosp_lv,
        measure,
        case when all_categories = 1 then '*' else dise_category end as dise_category,
        sample_size,
        mean_value,
        min_value,
        p50,
        p90,
        p99,
        max_value
    from aggregated
    where all_categories = 1 or dise_category is not null
)

select * from final
