-- R03 门特药店购药频次 frequent pharmacy purchases (person-month), for persons
-- with an active special-disease registration (any type) on the month's first day.
-- Person-period rule: default threshold only (no hosp_lv override).
with

rc as (
    {{ rule_catalogue('R03') }}
),

sales as (
    select
        lv.mdtrt_id,
        lv.psn_no,
        lv.begin_time,
        lv.visit_date,
        lv.fund_amount,
        cast(date_trunc('month', lv.visit_date) as date) as period_start
    from ({{ rule_live_visits() }}) as lv
    where lv.med_type = '41'
),

ranked as (
    select
        sa.*,
        row_number() over (
            partition by sa.psn_no, sa.period_start
            order by sa.begin_time, sa.mdtrt_id
        ) as sale_rank,
        count(*) over (partition by sa.psn_no, sa.period_start) as sale_count
    from sales as sa
),

registered as (
    select distinct
        rk.psn_no,
        rk.period_start,
        rk.sale_count
    from ranked as rk
    where exists (
        select 1
        from {{ ref('dim_special_disease_registration') }} as reg
        where
            reg.psn_no = rk.psn_no
            and {{ rule_as_of('reg', 'rk.period_start') }}
            and {{ rule_is_active('reg', 'rk.period_start') }}
    )
),

suspects as (
    select
        min(case when rk.sale_rank = rc.threshold + 1 then rk.visit_date end) as business_date,
        rg.period_start,
        cast(null as text) as fixmedins_code,
        cast(null as text) as dept_codg,
        cast(null as text) as prac_codg,
        rg.psn_no,
        cast(null as text) as mdtrt_id,
        cast(null as text) as feedetl_sn,
        cast(null as text) as rxno,
        sum(rk.fund_amount) as raw_amount,
        jsonb_build_object(
            'sale_count', rg.sale_count,
            'threshold', rc.threshold,
            'suspect_mdtrt_ids', jsonb_agg(rk.mdtrt_id order by rk.sale_rank)
        ) as evidence
    from registered as rg
    cross join rc
    inner join ranked as rk
        on
            rk.psn_no = rg.psn_no
            and rk.period_start = rg.period_start
            and rk.sale_rank > rc.threshold
    where rg.sale_count > rc.threshold
    group by rg.psn_no, rg.period_start, rg.sale_count, rc.threshold
),

final as (
    {{ rule_output() }}
)

select * from final
