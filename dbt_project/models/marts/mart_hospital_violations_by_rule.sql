{{ config(materialized='view') }}

-- 本院违规按规则 a hospital's suspects per month and rule, a view over
-- mart_hospital_violations: security_invoker (set by the marts post-hook), so
-- row-level security of the table applies to whoever queries the view.

with

violations as (
    select * from {{ ref('mart_hospital_violations') }}
),

final as (
    select
        fixmedins_code,
        stat_month,
        rule_code,
        rule_name_zh,
        rule_name_en,
        disposition,
        count(*) as violation_count,
        sum(amount) as suspect_amount
    from violations
    group by fixmedins_code, stat_month, rule_code, rule_name_zh, rule_name_en, disposition
)

select * from final
