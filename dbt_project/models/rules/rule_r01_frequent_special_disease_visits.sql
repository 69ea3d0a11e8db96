{{ config(rule_scope='person_month') }}
-- depends_on: {{ ref('int_rule_fee_lines') }}
-- R01 门特频繁就医 frequent special-disease visits (person-month).
-- Person-period rule: default thresholds only (no hosp_lv override).
with

rc as (
    {{ rule_catalogue('R01') }}
),

{{ person_month_events('14') }},

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
        di.event_count,
        di.is_dialysis,
        case when di.is_dialysis then rc.threshold_alt else rc.threshold end as threshold
    from dialysis as di
    cross join rc
),

suspects as (
    {{ person_month_excess('visit_count', ['is_dialysis']) }}
),

final as (
    {{ rule_output() }}
)

select * from final
