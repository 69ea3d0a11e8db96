-- noqa: disable=LT02
-- (Jinja-generated SQL: sqlfluff cannot judge indentation across template loops.)
{#- The monthly indicators every mart_*_monthly model carries, in one place so
    the trend model (MoM/YoY) and the per-dimension marts never drift apart.
    kind: count | amount | ratio (ratios are derived from the summed parts). -#}
{% macro marts_indicators() %}
    {{ return([
        {'name': 'visits', 'zh': '人次', 'en': 'visits (non-cancelled)'},
        {'name': 'persons', 'zh': '人数', 'en': 'distinct insured persons'},
        {'name': 'visits_per_person', 'zh': '人次人头比', 'en': 'visits per person'},
        {'name': 'total_fee', 'zh': '医疗总费用', 'en': 'total medical fee (settlement medfee_sumamt, net)'},
        {'name': 'fund_pay', 'zh': '基金支付', 'en': 'fund payment (fund_pay_sumamt, net)'},
        {'name': 'fund_pay_ratio', 'zh': '基金支付比例', 'en': 'fund payment / total fee'},
        {'name': 'avg_fee_per_visit', 'zh': '次均费用', 'en': 'total fee / visits'},
        {'name': 'inpatient_stays', 'zh': '出院人次', 'en': 'inpatient stays (med_type 21, by discharge month)'},
        {'name': 'avg_stay_days', 'zh': '平均住院日', 'en': 'average length of stay in days'},
        {'name': 'fee_per_stay', 'zh': '次均住院费用', 'en': 'total fee of stays / stays'},
        {'name': 'drug_fee', 'zh': '药品费用', 'en': 'fee lines of list_type 101 + 102'},
        {'name': 'drug_share', 'zh': '药占比', 'en': 'drug fee / fee-line total'},
        {'name': 'herbal_fee', 'zh': '中药饮片费用', 'en': 'fee lines of list_type 102'},
        {'name': 'herbal_share', 'zh': '中药饮片占比', 'en': 'herbal fee / fee-line total'},
        {'name': 'violation_count', 'zh': '疑点数', 'en': 'suspects (fct_violations rows)'},
        {'name': 'suspect_amount', 'zh': '疑点金额', 'en': 'suspect amount (yuan)'},
        {'name': 'deduct_count', 'zh': '违规费用疑点数', 'en': 'suspects with disposition deduct'},
        {'name': 'deduct_amount', 'zh': '违规费用金额', 'en': 'amount of deduct suspects'},
        {'name': 'hospital_review_count', 'zh': '发医院核查疑点数', 'en': 'suspects with disposition hospital_review'},
        {'name': 'hospital_review_amount', 'zh': '发医院核查金额', 'en': 'amount of hospital_review suspects'},
        {'name': 'pending_review_count', 'zh': '待核查疑点数', 'en': 'suspects with disposition pending_review'},
        {'name': 'pending_review_amount', 'zh': '待核查金额', 'en': 'amount of pending_review suspects'},
    ]) }}
{% endmacro %}

{#- Growth of cur over prev: NULL when the earlier period has no row or a zero
    value (a growth rate from nothing is undefined, not 0 and not an error). -#}
{% macro marts_growth(cur, prev) -%}
    case when {{ prev }} is null or {{ prev }} = 0 then null
        else round(({{ cur }} - {{ prev }})::numeric / abs({{ prev }}), 6) end
{%- endmacro %}

{#- Body of a mart_<dimension>_monthly model: one dimension's rows of
    mart_indicator_trends with its key columns, every indicator and its MoM/YoY. -#}
{% macro marts_monthly_slice(dimension, key_columns, institution_name=false) %}
{%- set indicators = marts_indicators() %}
with

trends as (
    select * from {{ ref('mart_indicator_trends') }}
    where dimension = '{{ dimension }}'
),
{%- if institution_name %}

institution_names as (
    select distinct on (fixmedins_code)
        fixmedins_code,
        fixmedins_name
    from {{ ref('dim_institution') }}
    order by fixmedins_code asc, valid_from desc
),
{%- endif %}

final as (
    select
        t.stat_month,
        {%- for k in key_columns %}
        t.{{ k }},
        {%- endfor %}
        {%- if institution_name %}
        n.fixmedins_name,
        {%- endif %}
        {%- for i in indicators %}
        t.{{ i.name }},
        t.{{ i.name }}_mom,
        t.{{ i.name }}_yoy{% if not loop.last %},{% endif %}
        {%- endfor %}
    from trends as t
    {%- if institution_name %}
    left join institution_names as n on t.fixmedins_code = n.fixmedins_code
    {%- endif %}
)

select * from final
{% endmacro %}
