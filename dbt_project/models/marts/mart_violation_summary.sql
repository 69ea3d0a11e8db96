{{ config(
    indexes=[
        {'columns': ['stat_month', 'fixmedins_code']},
        {'columns': ['rule_code', 'stat_month']},
    ]
) }}

-- 违规分类汇总 suspects and amounts by month, institution, rule and
-- disposition (with the institution's level and region); person-period suspects
-- (R01-R03) have fixmedins_code NULL.

with

violations as (
    select * from {{ ref('fct_violations_enriched') }}
),

rules as (
    select
        code as rule_code,
        name_zh as rule_name_zh,
        name_en as rule_name_en
    from {{ ref('audit_rules') }}
),

aggregated as (
    select
        stat_month,
        fixmedins_code,
        max(fixmedins_name) as fixmedins_name,
        max(hosp_lv) as hosp_lv,
        max(admdvs) as admdvs,
        rule_code,
        disposition,
        max(severity) as severity,
        count(*) as violation_count,
        sum(amount) as suspect_amount,
        count(distinct psn_no) as persons
    from violations
    group by stat_month, fixmedins_code, rule_code, disposition
),

final as (
    select
        a.stat_month,
        a.fixmedins_code,
        a.fixmedins_name,
        a.hosp_lv,
        a.admdvs,
        a.rule_code,
        r.rule_name_zh,
        r.rule_name_en,
        a.disposition,
        a.severity,
        a.violation_count,
        a.suspect_amount,
        a.persons
    from aggregated as a
    left join rules as r on a.rule_code = r.rule_code
)

select * from final
