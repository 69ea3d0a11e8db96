{{ config(rule_scope='person_month') }}
-- depends_on: {{ ref('int_rule_fee_lines') }}
-- R03 门特药店购药频次 frequent pharmacy purchases (person-month), for persons
-- with an active special-disease registration (any type) on the month's first day.
-- Person-period rule: default threshold only (no hosp_lv override).
with

rc as (
    {{ rule_catalogue('R03') }}
),

{{ person_month_events('41') }},

thresholds as (
    select
        pm.psn_no,
        pm.period_start,
        pm.event_count,
        rc.threshold
    from person_months as pm
    cross join rc
    where exists (
        select 1
        from {{ ref('dim_special_disease_registration') }} as reg
        where
            reg.psn_no = pm.psn_no
            and {{ rule_as_of('reg', 'pm.period_start') }}
            and {{ rule_is_active('reg', 'pm.period_start') }}
    )
),

suspects as (
    {{ person_month_excess('sale_count') }}
),

final as (
    {{ rule_output() }}
)

select * from final
