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

-- counts first: the evidence arrays are built for the suspect days only
person_days as (
    select
        vi.psn_no,
        vi.visit_date,
        count(distinct vi.fixmedins_code) as institution_count
    from visits as vi
    group by vi.psn_no, vi.visit_date
),

suspect_days as (
    select
        pd.psn_no,
        pd.visit_date,
        pd.institution_count,
        rc.threshold
    from person_days as pd
    cross join rc
    where pd.institution_count >= rc.threshold
),

day_details as (
    select
        sd.psn_no,
        sd.visit_date,
        sd.institution_count,
        sd.threshold,
        count(*) as visit_count,
        sum(vi.fund_amount) as fund_amount,
        jsonb_agg(distinct vi.fixmedins_code) as institutions,
        jsonb_agg(vi.mdtrt_id order by vi.mdtrt_id) as mdtrt_ids
    from suspect_days as sd
    inner join visits as vi on vi.psn_no = sd.psn_no and vi.visit_date = sd.visit_date
    group by sd.psn_no, sd.visit_date, sd.institution_count, sd.threshold
),

suspects as (
    select
        dd.visit_date as business_date,
        dd.visit_date as period_start,
        cast(null as text) as fixmedins_code,
        cast(null as text) as dept_codg,
        cast(null as text) as prac_codg,
        dd.psn_no,
        cast(null as text) as mdtrt_id,
        cast(null as text) as feedetl_sn,
        cast(null as text) as rxno,
        dd.fund_amount as raw_amount,
        jsonb_build_object(
            'institution_count', dd.institution_count,
            'visit_count', dd.visit_count,
            'threshold', dd.threshold,
            'institutions', dd.institutions,
            'mdtrt_ids', dd.mdtrt_ids
        ) as evidence
    from day_details as dd
),

final as (
    {{ rule_output() }}
)

select * from final
