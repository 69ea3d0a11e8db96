{{ config(rule_scope='person') }}
-- depends_on: {{ ref('int_rule_fee_lines') }}
-- R13 住院期间门诊购药 outpatient claims during a stay (visit): an outpatient or
-- pharmacy visit dated strictly between the admission and discharge days of
-- one of the person's inpatient stays, at any institution.
with

rc as (
    {{ rule_catalogue('R13') }}
),

matches as (
    select
        lv.mdtrt_id,
        lv.fixmedins_code,
        lv.dept_codg,
        lv.prac_codg,
        lv.psn_no,
        lv.visit_date,
        lv.fund_amount,
        jsonb_agg(
            jsonb_build_object(
                'stay_mdtrt_id', st.mdtrt_id,
                'stay_fixmedins_code', st.fixmedins_code,
                'admission_date', st.admission_date,
                'discharge_date', st.discharge_date
            )
            order by st.admission_date, st.mdtrt_id
        ) as stays
    from ({{ rule_live_visits() }}) as lv
    inner join {{ ref('int_inpatient_stays') }} as st
        on
            st.psn_no = lv.psn_no
            and lv.visit_date > st.admission_date
            and lv.visit_date < st.discharge_date
    where lv.med_type in ('11', '13', '14', '41')
    group by lv.mdtrt_id, lv.fixmedins_code, lv.dept_codg, lv.prac_codg, lv.psn_no, lv.visit_date, lv.fund_amount
),

suspects as (
    select
        {{ rule_visit_grain('ma', 'ma.visit_date') }},
        ma.fund_amount as raw_amount,
        jsonb_build_object('stays', ma.stays) as evidence
    from matches as ma
),

final as (
    {{ rule_output() }}
)

select * from final
