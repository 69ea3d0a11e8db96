-- 疑点明细 every suspect of every audit rule, one row per (rule, grain key).
-- violation_id = md5 of rule_code and the grain key parts joined by '|' (NULL
-- parts as ''), the grain taken from the rule catalogue seed. detected_at keeps
-- the first run that found the suspect across rebuilds.
{%- set rule_models = [
    'rule_r01_frequent_special_disease_visits',
    'rule_r02_same_day_multi_institution',
    'rule_r03_frequent_pharmacy_purchases',
    'rule_r04_supply_over_limit',
    'rule_r05_early_refill',
    'rule_r06_drug_outside_indication',
    'rule_r07_gender_restricted_item',
    'rule_r08_age_restricted_item',
    'rule_r09_price_over_cap',
    'rule_r10_herbal_over_herb_count',
    'rule_r11_duplicate_charge',
    'rule_r12_split_hospitalization',
    'rule_r13_outpatient_during_stay',
    'rule_r14_claims_after_death',
    'rule_r15_outside_agreement',
    'rule_r16_unregistered_prescriber',
] %}
{#- the previous build, when there is one, keeps first-detection times -#}
{%- set previous = rule_previous_relation() %}

with

unioned as (
    {% for rule_model in rule_models %}
        select * from {{ ref(rule_model) }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

keyed as (
    select
        md5(
            un.rule_code || '|'
            || case ar.grain
                when 'line' then concat_ws('|', coalesce(un.fixmedins_code, ''), coalesce(un.mdtrt_id, ''), coalesce(un.feedetl_sn, ''))
                when 'visit' then coalesce(un.mdtrt_id, '')
                when 'prescription' then concat_ws('|', coalesce(un.fixmedins_code, ''), coalesce(un.rxno, ''))
                else concat_ws('|', coalesce(un.psn_no, ''), coalesce(to_char(un.period_start, 'YYYY-MM-DD'), ''))
            end
        ) as violation_id,
        un.*
    from unioned as un
    inner join {{ ref('audit_rules') }} as ar on ar.code = un.rule_code
),

previous_detections as (
    {% if previous is not none -%}
        select
            pv.violation_id,
            pv.detected_at
        from {{ previous }} as pv
    {%- else -%}
        select
            cast(null as text) as violation_id,
            cast(null as timestamptz) as detected_at
        where false
    {%- endif %}
),

final as (
    select
        ke.violation_id,
        ke.rule_code,
        ke.rule_version,
        ke.disposition,
        ke.severity,
        ke.business_date,
        ke.period_start,
        ke.fixmedins_code,
        ke.dept_codg,
        ke.prac_codg,
        ke.psn_no,
        ke.mdtrt_id,
        ke.feedetl_sn,
        ke.rxno,
        ke.amount,
        ke.evidence,
        coalesce(pd.detected_at, now()) as detected_at
    from keyed as ke
    left join previous_detections as pd on pd.violation_id = ke.violation_id
)

select * from final
