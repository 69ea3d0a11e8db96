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
    select
        fixmedins_code,
        fixmedins_name,
        fixmedins_type,
        hosp_lv,
        admdvs,
        valid_from,
        valid_to,
        row_number() over (partition by fixmedins_code order by valid_from desc) as version_desc
    from {{ ref('dim_institution') }}
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
        coalesce(i.fixmedins_name, il.fixmedins_name) as fixmedins_name,
        coalesce(i.fixmedins_type, il.fixmedins_type) as fixmedins_type,
        coalesce(i.hosp_lv, il.hosp_lv) as hosp_lv,
        coalesce(i.admdvs, il.admdvs) as admdvs,
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
    left join institutions as i
        on
            v.fixmedins_code = i.fixmedins_code
            and i.valid_from <= v.business_date
            and (i.valid_to is null or v.business_date < i.valid_to)
    left join institutions as il
        on v.fixmedins_code = il.fixmedins_code and il.version_desc = 1
)

select * from final
