{{ config(
    indexes=[
        {'columns': ['stat_date', 'fixmedins_code']},
    ]
) }}

-- 本月日趋势 daily series of the current month: the month of the latest
-- statistics date in the warehouse (data arrive a day late and demos replay
-- past months, so "current" is the data's month, not the clock's). City-wide
-- rows have dimension 'city' and fixmedins_code NULL; per institution 'institution'.

with

visits as (
    select * from {{ ref('fct_visits') }}
),

violations as (
    select * from {{ ref('fct_violations_enriched') }}
),

current_month as (
    select max(stat_month) as stat_month from visits
),

visit_daily as (
    select
        v.stat_date,
        grouping(v.fixmedins_code) as g,
        v.fixmedins_code,
        count(*) as visits,
        count(distinct v.psn_no) as persons,
        sum(v.total_fee) as total_fee,
        sum(v.fund_pay) as fund_pay
    from visits as v
    inner join current_month as c on v.stat_month = c.stat_month
    group by v.stat_date, grouping sets ((), (v.fixmedins_code))
),

violation_daily as (
    select
        x.business_date as stat_date,
        grouping(x.fixmedins_code) as g,
        x.fixmedins_code,
        count(*) as violation_count,
        sum(x.amount) as suspect_amount
    from violations as x
    inner join current_month as c on x.stat_month = c.stat_month
    group by x.business_date, grouping sets ((), (x.fixmedins_code))
),

joined as (
    select
        coalesce(vd.stat_date, xd.stat_date) as stat_date,
        case when coalesce(vd.g, xd.g) = 1 then 'city' else 'institution' end as dimension,
        coalesce(vd.fixmedins_code, xd.fixmedins_code) as fixmedins_code,
        coalesce(vd.visits, 0) as visits,
        coalesce(vd.persons, 0) as persons,
        coalesce(vd.total_fee, 0) as total_fee,
        coalesce(vd.fund_pay, 0) as fund_pay,
        coalesce(xd.violation_count, 0) as violation_count,
        coalesce(xd.suspect_amount, 0) as suspect_amount
    from visit_daily as vd
    full outer join violation_daily as xd
        on
            vd.stat_date = xd.stat_date
            and vd.g = xd.g
            and coalesce(vd.fixmedins_code, '') = coalesce(xd.fixmedins_code, '')
),

final as (
    select
        stat_date,
        cast(date_trunc('month', stat_date) as date) as stat_month,
        dimension,
        fixmedins_code,
        visits,
        persons,
        total_fee,
        fund_pay,
        round(total_fee / nullif(visits, 0), 2) as avg_fee_per_visit,
        violation_count,
        suspect_amount,
        sum(total_fee) over w as mtd_total_fee,
        sum(fund_pay) over w as mtd_fund_pay,
        sum(visits) over w as mtd_visits
    from joined
    -- person-period suspects have no institution: they count city-wide only
    where dimension = 'city' or fixmedins_code is not null
    window w as (partition by dimension, fixmedins_code order by stat_date)
)

select * from final
