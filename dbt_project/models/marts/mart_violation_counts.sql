{{ config(
    indexes=[
        {'columns': ['stat_month', 'fixmedins_code']},
        {'columns': ['fixmedins_code', 'stat_month']},
    ]
) }}

-- 疑点计数 suspects and amounts of mart_hospital_violations counted per month x
-- institution x rule x disposition x severity, with the names the detail mart
-- shows. The violations dashboard's group-by charts read this narrow table
-- instead of aggregating the wide detail mart on every query
-- (docs/benchmarks.md). Row-level security as mart_hospital_violations: a
-- hospital role sees only its own rows; person-period suspects (R01-R03,
-- fixmedins_code NULL) are visible to auditors only.

with

violations as (
    select * from {{ ref('mart_hospital_violations') }}
),

final as (
    -- grouped by every column shown, not only the grain: the charts then
    -- answer exactly as they would over the detail rows
    select
        stat_month,
        fixmedins_code,
        fixmedins_name,
        hosp_lv,
        admdvs,
        rule_code,
        rule_name_zh,
        rule_name_en,
        disposition,
        disposition_zh,
        severity,
        count(*) as suspect_count,
        sum(amount) as amount
    from violations
    group by
        stat_month, fixmedins_code, fixmedins_name, hosp_lv, admdvs, rule_code, rule_name_zh, rule_name_en,
        disposition, disposition_zh, severity
)

select * from final
