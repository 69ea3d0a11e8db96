{{ config(
    indexes=[
        {'columns': ['violation_id'], 'unique': true},
        {'columns': ['stat_month', 'fixmedins_code']},
    ]
) }}

-- Every suspect of fct_violations with the attributes the marts slice by:
-- statistics month (month of business_date), institution level/region/type as
-- of business_date, disease category and insurance type of its visit.

with

violations as (
    select * from {{ ref('fct_violations') }}
),

institutions as (
    {{ marts_institution_versions() }}
),

visits as (
    select
        mdtrt_id,
        insutype,
        main_dise_codg
    from {{ ref('int_visits') }}
),

final as (
    select
        v.violation_id,
        v.rule_code,
        v.rule_version,
        v.disposition,
        v.severity,
        v.business_date,
        cast(date_trunc('month', v.business_date) as date) as stat_month,
        v.period_start,
        v.fixmedins_code,
        {{ marts_institution_attributes(['fixmedins_name', 'fixmedins_type', 'hosp_lv', 'admdvs']) }},
        v.dept_codg,
        v.prac_codg,
        v.psn_no,
        v.mdtrt_id,
        v.feedetl_sn,
        v.rxno,
        vi.insutype,
        vi.main_dise_codg,
        left(vi.main_dise_codg, 3) as dise_category,
        v.amount,
        v.evidence,
        v.detected_at
    from violations as v
    left join visits as vi on v.mdtrt_id = vi.mdtrt_id
    {{ marts_join_institution('v', 'v.business_date') }}
)

select * from final
