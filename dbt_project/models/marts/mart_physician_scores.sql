{{ config(
    indexes=[
        {'columns': ['violation_id'], 'unique': true},
        {'columns': ['score_year', 'prac_codg']},
        {'columns': ['fixmedins_code', 'stat_month']},
    ]
) }}

-- 医保医师积分 points deducted from the practitioner of every suspect that
-- names one (prac_codg), from the seed physician_score_points by rule and
-- disposition, with the running total per practitioner and calendar year
-- (ordered by business_date, then violation_id) against the annual 12 points.

{%- set annual_points = var('physician_annual_points', 12) %}

with

violations as (
    select * from {{ ref('fct_violations_enriched') }}
    where prac_codg is not null
),

points as (
    select
        rule_code,
        disposition,
        points
    from {{ ref('physician_score_points') }}
),

rules as (
    select
        code as rule_code,
        name_zh as rule_name_zh,
        name_en as rule_name_en
    from {{ ref('audit_rules') }}
),

scored as (
    select
        v.violation_id,
        cast(extract(year from v.business_date) as integer) as score_year,
        v.prac_codg,
        v.fixmedins_code,
        v.fixmedins_name,
        v.dept_codg,
        v.business_date,
        v.stat_month,
        v.rule_code,
        r.rule_name_zh,
        r.rule_name_en,
        v.disposition,
        v.amount,
        coalesce(p.points, 0) as points
    from violations as v
    left join points as p on v.rule_code = p.rule_code and v.disposition = p.disposition
    left join rules as r on v.rule_code = r.rule_code
),

running as (
    select
        *,
        sum(points) over (
            partition by prac_codg, score_year
            order by business_date, violation_id
            rows between unbounded preceding and current row
        ) as running_points
    from scored
),

final as (
    select
        *,
        greatest({{ annual_points }} - running_points, 0) as remaining_points,
        -- consequence bands of the annual 12 points (see docs/marts.md)
        case
            when running_points = 0 then 'normal'
            when running_points <= 3 then 'reminder'
            when running_points <= 8 then 'suspend_short'
            when running_points < {{ annual_points }} then 'suspend_long'
            else 'terminate'
        end as score_status
    from running
)

select * from final
