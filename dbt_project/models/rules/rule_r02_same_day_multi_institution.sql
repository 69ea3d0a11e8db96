{{ config(rule_scope='person_day') }}
-- depends_on: {{ ref('int_rule_fee_lines') }}
-- R02 同日多机构就诊 same-day visits at many institutions (person-day).
-- "At least N" institutions (spec wording): N itself is a suspect.
-- Person-period rule: default threshold only (no hosp_lv override).
with

rc as (
    {{ rule_catalogue('R02') }}
),

visits as (
    select
        lv.mdtrt_id,
        lv.psn_no,
        lv.fixmedins_code,
        lv.visit_date,
        lv.fund_amount
    from ({{ rule_live_visits() }}) as lv
    where lv.med_type in ('11', '13', '14', '41')
),

person_days as (
    select
        vi.psn_no,
        vi.visit_date,
        count(distinct vi.fixmedins_code) as institution_count,
        count(*) as visit_count,
        sum(vi.fund_amount) as fund_amount,
        jsonb_agg(distinct vi.fixmedins_code) as institutions,
        jsonb_agg(vi.mdtrt_id order by vi.mdtrt_id) as mdtrt_ids
    from visits as vi
    group by vi.psn_no, vi.visit_date
),

suspects as (
    select
        pd.visit_date as business_date,
        pd.visit_date as period_start,
        cast(null as text) as fixmedins_code,
        cast(null as text) as dept_codg,
        cast(null as text) as prac_codg,
        pd.psn_no,
        cast(null as text) as mdtrt_id,
        cast(null as text) as feedetl_sn,
        cast(null as text) as rxno,
        pd.fund_amount as raw_amount,
        jsonb_build_object(
            'institution_count', pd.institution_count,
            'visit_count', pd.visit_count,
            'threshold', rc.threshold,
            'institutions', pd.institutions,
            'mdtrt_ids', pd.mdtrt_ids
        ) as evidence
    from person_days as pd
    cross join rc
    where pd.institution_count >= rc.threshold
),

final as (
    {{ rule_output() }}
)

select * from final
