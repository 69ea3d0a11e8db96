{{ config(
    indexes=[
        {'columns': ['stat_month', 'dimension', 'metric', 'scope_type', 'scope_value', 'rank_no']},
        {'columns': ['stat_month', 'fixmedins_code']},
    ],
    post_hook=[
        "{{ dashboard_covering_index(['dimension', 'scope_type', 'stat_month', 'member_key'],
            ['fixmedins_code', 'admdvs', 'hosp_lv', 'metric', 'metric_value', 'rank_no']) }}",
        {'sql': "{{ dashboard_vacuum() }}", 'transaction': false},
    ]
) }}

-- 排行 Rankings: every institution, department, physician, disease and person
-- ranked within month x scope (city / region / institution level) by fee, fund
-- payment, fee growth (MoM) and suspect amount. Ties share a rank
-- (competition ranking 1, 1, 3); dense_rank_no is 1, 1, 2. Entities without a
-- value for a metric (e.g. no previous month for growth) are not ranked.

{%- set metrics = ['total_fee', 'fund_pay', 'total_fee_mom', 'suspect_amount'] %}
{%- set person_limit = var('mart_person_rank_limit', 1000) %}

with

trends as (
    select * from {{ ref('mart_indicator_trends') }}
    where dimension in ('institution', 'department', 'physician', 'disease', 'person')
),

metric_values as (
    {%- for m in metrics %}
        select
            stat_month,
            dimension,
            member_key,
            fixmedins_code,
            dept_codg,
            prac_codg,
            dise_category,
            psn_no,
            hosp_lv,
            admdvs,
            '{{ m }}' as metric,
            cast({{ m }} as numeric) as metric_value
        from trends
        where {{ m }} is not null
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

scoped as (
    select
        *,
        'city' as scope_type,
        'ALL' as scope_value
    from metric_values
    union all
    -- regions and levels are institutions' attributes: diseases and persons
    -- span institutions, so they are ranked city-wide only
    select
        *,
        'region' as scope_type,
        admdvs as scope_value
    from metric_values
    where dimension in ('institution', 'department', 'physician') and admdvs is not null
    union all
    select
        *,
        'level' as scope_type,
        hosp_lv as scope_value
    from metric_values
    where dimension in ('institution', 'department', 'physician') and hosp_lv is not null
),

ranked as (
    select
        *,
        rank() over w as rank_no,
        dense_rank() over w as dense_rank_no,
        count(*) over (partition by stat_month, dimension, metric, scope_type, scope_value) as ranked_count
    from scoped
    window w as (partition by stat_month, dimension, metric, scope_type, scope_value order by metric_value desc)
),

final as (
    select
        stat_month,
        dimension,
        member_key,
        fixmedins_code,
        dept_codg,
        prac_codg,
        dise_category,
        psn_no,
        hosp_lv,
        admdvs,
        scope_type,
        scope_value,
        metric,
        metric_value,
        rank_no,
        dense_rank_no,
        ranked_count
    from ranked
    -- persons are too many to rank in full: keep the top of each list
    where dimension <> 'person' or rank_no <= {{ person_limit }}
)

select * from final
