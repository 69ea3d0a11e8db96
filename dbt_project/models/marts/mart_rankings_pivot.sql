{{ config(
    post_hook=[
        "{{ dashboard_covering_index(['dimension', 'member_key', 'stat_month'],
            ['fixmedins_code', 'fixmedins_name', 'admdvs', 'hosp_lv', 'total_fee', 'fund_pay', 'total_fee_mom',
             'suspect_amount', 'rank_fee']) }}",
        {'sql': "{{ dashboard_vacuum() }}", 'transaction': false},
    ]
) }}

-- 排行宽表 the city-wide rankings of mart_rankings pivoted back to one row per
-- month x dimension x member: the four metrics and the rank by fee as columns,
-- the institution's name joined in. The Superset rankings dataset reads this
-- table, so a chart aggregates a year of narrow rows of one dimension instead
-- of pivoting mart_rankings' long rows on every query (docs/benchmarks.md).

with

rankings as (
    select * from {{ ref('mart_rankings') }}
    where scope_type = 'city'
),

-- the name the dashboards show for a code: one per institution, whatever month
names as (
    select
        fixmedins_code,
        max(fixmedins_name) as fixmedins_name
    from {{ ref('mart_institution_monthly') }}
    group by fixmedins_code
),

pivoted as (
    select
        stat_month,
        dimension,
        member_key,
        fixmedins_code,
        admdvs,
        hosp_lv,
        max(metric_value) filter (where metric = 'total_fee') as total_fee,
        max(metric_value) filter (where metric = 'fund_pay') as fund_pay,
        max(metric_value) filter (where metric = 'total_fee_mom') as total_fee_mom,
        max(metric_value) filter (where metric = 'suspect_amount') as suspect_amount,
        max(rank_no) filter (where metric = 'total_fee') as rank_fee
    from rankings
    group by stat_month, dimension, member_key, fixmedins_code, admdvs, hosp_lv
),

final as (
    select
        p.stat_month,
        p.dimension,
        p.member_key,
        p.fixmedins_code,
        n.fixmedins_name,
        p.admdvs,
        p.hosp_lv,
        p.total_fee,
        p.fund_pay,
        p.total_fee_mom,
        p.suspect_amount,
        p.rank_fee
    from pivoted as p
    left join names as n on p.fixmedins_code = n.fixmedins_code
)

select * from final
