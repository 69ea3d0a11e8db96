{{ config(rule_scope='person_institution') }}
-- depends_on: {{ ref('int_rule_fee_lines') }}
-- R12 分解住院 split hospitalization (visit = the later stay). The previous stay:
-- same person and institution, another stay discharged on or before this
-- admission, the latest such discharge; suspect when the gap is 0..threshold
-- days and both share the 3-character main-diagnosis category.
with

rc as (
    {{ rule_catalogue('R12') }}
),

ov as (
    {{ rule_overrides('R12') }}
),

stays as (
    {{ rule_stays() }}
),

paired as (
    select
        st.*,
        pv.mdtrt_id as previous_mdtrt_id,
        pv.discharge_date as previous_discharge_date,
        pv.dise_category as previous_dise_category,
        st.admission_date - pv.discharge_date as gap_days
    from stays as st
    -- the previous stay is looked up in the model itself, not in the `stays` CTE:
    -- a CTE read twice is materialized, and the lateral then scans all of it
    -- for every stay (quadratic: 84 s for one city day's 15,000 stays)
    inner join lateral (
        select
            p.mdtrt_id,
            p.discharge_date,
            p.dise_category
        from {{ ref('int_inpatient_stays') }} as p
        where
            p.psn_no = st.psn_no
            and p.fixmedins_code = st.fixmedins_code
            and p.mdtrt_id <> st.mdtrt_id
            and p.discharge_date <= st.admission_date
        order by p.discharge_date desc, p.end_time desc nulls last, p.admission_date desc, p.mdtrt_id desc
        limit 1
    ) as pv on true
),

thresholds as (
    select
        pa.*,
        inst.hosp_lv,
        {{ rule_threshold('threshold') }} as threshold
    from paired as pa
    cross join rc
    {{ rule_join_institution_as_of('pa', 'pa.admission_date') }}
    left join ov on ov.hosp_lv = inst.hosp_lv
),

suspects as (
    select
        th.admission_date as business_date,
        cast(null as date) as period_start,
        th.fixmedins_code,
        th.dept_codg,
        th.prac_codg,
        th.psn_no,
        th.mdtrt_id,
        cast(null as text) as feedetl_sn,
        cast(null as text) as rxno,
        th.fund_amount as raw_amount,
        jsonb_build_object(
            'previous_mdtrt_id', th.previous_mdtrt_id,
            'previous_discharge_date', th.previous_discharge_date,
            'gap_days', th.gap_days,
            'threshold', th.threshold,
            'dise_category', th.dise_category,
            'hosp_lv', th.hosp_lv
        ) as evidence
    from thresholds as th
    where
        th.gap_days between 0 and th.threshold
        and th.dise_category = th.previous_dise_category
),

final as (
    {{ rule_output() }}
)

select * from final
