{{ config(rule_scope='prescription') }}
-- depends_on: {{ ref('int_rule_fee_lines') }}
-- R10 中药饮片超味数 herbal prescription over herb count (prescription =
-- fixmedins_code + rxno). Only list_type 102 lines count, for the herb count and
-- the amount. The higher limit applies with an active TUMOR registration on the
-- prescription date or a diagnosis starting with C in one of its visits.
with

rc as (
    {{ rule_catalogue('R10') }}
),

ov as (
    {{ rule_overrides('R10') }}
),

herb_lines as (
    select lf.*
    from ({{ rule_live_fee_lines() }}) as lf
    where lf.list_type = '102' and lf.rxno is not null
),

prescriptions as (
    select
        hl.fixmedins_code,
        hl.rxno,
        min(hl.fee_date) as business_date,
        min(hl.psn_no) as psn_no,
        min(hl.dept_codg) as dept_codg,
        min(hl.prac_codg) as prac_codg,
        case when count(distinct hl.mdtrt_id) = 1 then min(hl.mdtrt_id) end as mdtrt_id,
        array_agg(distinct hl.mdtrt_id) as mdtrt_ids,
        count(distinct hl.med_list_codg) as herb_count,
        count(*) as line_count,
        sum(hl.amount) as herb_amount
    from herb_lines as hl
    group by hl.fixmedins_code, hl.rxno
),

-- the tumour flags cost two probes per prescription: only a prescription over
-- the lowest limit in force (default, alternative or an override) can be a suspect
lowest_limit as (
    select min(lim.threshold) as threshold
    from (
        select least(rc.threshold, rc.threshold_alt) as threshold from rc
        union all
        select least(ov.threshold, ov.threshold_alt) as threshold from ov
    ) as lim
),

flagged as (
    select
        pr.*,
        exists(
            select 1
            from {{ ref('dim_special_disease_registration') }} as reg
            where
                reg.psn_no = pr.psn_no
                and reg.dise_type = 'TUMOR'
                and {{ rule_as_of('reg', 'pr.business_date') }}
                and {{ rule_is_active('reg', 'pr.business_date') }}
        ) as has_tumor_registration,
        exists(
            select 1
            from {{ ref('int_visits') }} as vi
            cross join unnest(vi.diag_codes) as dg (code)
            where
                vi.fixmedins_code = pr.fixmedins_code
                and vi.mdtrt_id = any(pr.mdtrt_ids)
                and starts_with(upper(trim(dg.code)), 'C')
        ) as has_tumor_diagnosis
    from prescriptions as pr
    where pr.herb_count > (select ll.threshold from lowest_limit as ll)
),

thresholds as (
    select
        fl.*,
        inst.hosp_lv,
        case
            when fl.has_tumor_registration or fl.has_tumor_diagnosis
                then {{ rule_threshold('threshold_alt') }}
            else {{ rule_threshold('threshold') }}
        end as threshold
    from flagged as fl
    cross join rc
    {{ rule_join_institution_as_of('fl', 'fl.business_date') }}
    left join ov on ov.hosp_lv = inst.hosp_lv
),

suspects as (
    select
        th.business_date,
        cast(null as date) as period_start,
        th.fixmedins_code,
        th.dept_codg,
        th.prac_codg,
        th.psn_no,
        th.mdtrt_id,
        cast(null as text) as feedetl_sn,
        th.rxno,
        th.herb_amount as raw_amount,
        jsonb_build_object(
            'herb_count', th.herb_count,
            'threshold', th.threshold,
            'line_count', th.line_count,
            'tumor_registration', th.has_tumor_registration,
            'tumor_diagnosis', th.has_tumor_diagnosis,
            'hosp_lv', th.hosp_lv
        ) as evidence
    from thresholds as th
    where th.herb_count > th.threshold
),

final as (
    {{ rule_output() }}
)

select * from final
