{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    rule_scope='visit',
    pre_hook="{{ rule_refresh_prehook() }}",
    post_hook="{{ rule_record_build() }}",
    indexes=[
        {'columns': ['mdtrt_id'], 'unique': true},
        {'columns': ['stat_month', 'fixmedins_code']},
    ]
) }}
-- depends_on: {{ ref('int_rule_fee_lines') }}
-- depends_on: {{ ref('audit_rules') }}

-- One row per non-cancelled visit with everything the monthly indicators
-- aggregate: the statistics date (discharge date for stays, else the visit
-- date), the institution's level/region/type as of that date, fees by list type.
-- Incremental by visit like the audit rules (macros/rules/rule_incremental.sql):
-- a build recomputes the visits whose row or lines changed since the last one.

with

visits as (
    {{ rule_live_visits() }}
),

fee_lines as (
    {%- if rule_is_incremental() %}
        select lf.*
        from {{ rule_delta_relation('int_rule_fee_lines') }} as lf
        where not lf.is_fully_refunded
    {%- else %}
        -- lines of cancelled visits find no visit below
        select lf.*
        from {{ ref('int_fee_lines') }} as lf
    {%- endif %}
),

line_fees as (
    select
        fl.fixmedins_code,
        fl.mdtrt_id,
        sum(fl.amount) as line_fee_amount,
        coalesce(sum(fl.amount) filter (where fl.list_type in ('101', '102')), 0) as drug_fee_amount,
        coalesce(sum(fl.amount) filter (where fl.list_type = '102'), 0) as herbal_fee_amount
    from fee_lines as fl
    group by fl.fixmedins_code, fl.mdtrt_id
),

dated as (
    select
        v.*,
        v.med_type = '21' as is_inpatient,
        case when v.med_type = '21' then coalesce(v.discharge_date, v.visit_date) else v.visit_date end as stat_date
    from visits as v
),

institutions as (
    {{ marts_institution_versions() }}
),

final as (
    select
        d.mdtrt_id,
        d.visit_source,
        d.med_type,
        d.insutype,
        d.psn_no,
        d.fixmedins_code,
        -- the version valid on the statistics date; an institution that has
        -- left the catalogue keeps its last known attributes
        {{ marts_institution_attributes(['fixmedins_type', 'hosp_lv', 'admdvs']) }},
        d.dept_codg,
        d.prac_codg,
        d.main_dise_codg,
        left(d.main_dise_codg, 3) as dise_category,
        d.visit_date,
        d.discharge_date,
        d.stat_date,
        cast(date_trunc('month', d.stat_date) as date) as stat_month,
        d.is_inpatient,
        case
            when d.is_inpatient then greatest(coalesce(d.discharge_date, d.visit_date) - d.visit_date, 1)
        end as stay_days,
        coalesce(d.medfee_amount, 0) as total_fee,
        coalesce(d.fund_amount, 0) as fund_pay,
        coalesce(lf.line_fee_amount, 0) as line_fee_amount,
        coalesce(lf.drug_fee_amount, 0) as drug_fee_amount,
        coalesce(lf.herbal_fee_amount, 0) as herbal_fee_amount
    from dated as d
    left join line_fees as lf
        on d.fixmedins_code = lf.fixmedins_code and d.mdtrt_id = lf.mdtrt_id
    {{ marts_join_institution('d', 'd.stat_date') }}
)

select * from final
