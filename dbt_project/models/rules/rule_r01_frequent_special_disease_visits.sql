-- R01 门特频繁就医 frequent special-disease visits (person-month).
-- Person-period rule: default thresholds only (no hosp_lv override).
with

rc as (
    {{ rule_catalogue('R01') }}
),

visits as (
    select
        lv.mdtrt_id,
        lv.psn_no,
        lv.begin_time,
        lv.visit_date,
        lv.fund_amount,
        cast(date_trunc('month', lv.visit_date) as date) as period_start
    from ({{ rule_live_visits() }}) as lv
    where lv.med_type = '14'
),

ranked as (
    select
        vi.*,
        row_number() over (
            partition by vi.psn_no, vi.period_start
            order by vi.begin_time, vi.mdtrt_id
        ) as visit_rank,
        count(*) over (partition by vi.psn_no, vi.period_start) as visit_count
    from visits as vi
),

person_months as (
    select distinct
        rk.psn_no,
        rk.period_start,
        rk.visit_count
    from ranked as rk
),

dialysis as (
    select
        pm.*,
        exists(
            select 1
            from {{ ref('dim_special_disease_registration') }} as reg
            where
                reg.psn_no = pm.psn_no
                and reg.dise_type = 'DIALYSIS'
                and {{ rule_as_of('reg', 'pm.period_start') }}
                and {{ rule_is_active('reg', 'pm.period_start') }}
        ) as is_dialysis
    from person_months as pm
),

thresholds as (
    select
        di.psn_no,
        di.period_start,
        di.visit_count,
        di.is_dialysis,
        case when di.is_dialysis then rc.threshold_alt else rc.threshold end as threshold
    from dialysis as di
    cross join rc
),

suspects as (
    select
        min(case when rk.visit_rank = th.threshold + 1 then rk.visit_date end) as business_date,
        th.period_start,
        cast(null as text) as fixmedins_code,
        cast(null as text) as dept_codg,
        cast(null as text) as prac_codg,
        th.psn_no,
        cast(null as text) as mdtrt_id,
        cast(null as text) as feedetl_sn,
        cast(null as text) as rxno,
        sum(rk.fund_amount) as raw_amount,
        jsonb_build_object(
            'visit_count', th.visit_count,
            'threshold', th.threshold,
            'is_dialysis', th.is_dialysis,
            'suspect_mdtrt_ids', jsonb_agg(rk.mdtrt_id order by rk.visit_rank)
        ) as evidence
    from thresholds as th
    inner join ranked as rk
        on
            rk.psn_no = th.psn_no
            and rk.period_start = th.period_start
            and rk.visit_rank > th.threshold
    where th.visit_count > th.threshold
    group by th.psn_no, th.period_start, th.visit_count, th.threshold, th.is_dialysis
),

final as (
    {{ rule_output() }}
)

select * from final
