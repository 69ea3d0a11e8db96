{{ config(
    indexes=[
        {'columns': ['dimension', 'stat_month']},
        {'columns': ['dimension', 'member_key', 'stat_month'], 'unique': true},
    ]
) }}

-- Monthly indicators of every slice in one long table (one GROUPING SETS pass
-- over the visits and one over the suspects): dimension + member_key + month.
-- mart_indicator_trends adds MoM/YoY; the mart_*_monthly models are its slices.

{%- set keys = ['fixmedins_code', 'dept_codg', 'prac_codg', 'dise_category', 'psn_no', 'admdvs', 'hosp_lv', 'insutype'] %}
{%- set dims = [
    ('city', []),
    ('institution', ['fixmedins_code']),
    ('department', ['fixmedins_code', 'dept_codg']),
    ('physician', ['fixmedins_code', 'prac_codg']),
    ('disease', ['dise_category']),
    ('person', ['psn_no']),
    ('region', ['admdvs']),
    ('level', ['hosp_lv']),
    ('insutype', ['insutype']),
] %}
{#- grouping(keys...) bit i (from the left, weight 2^(n-1-i)) is 1 when keys[i] is aggregated away -#}
{%- set ns = namespace(masks={}) %}
{%- for name, dkeys in dims %}
    {%- set m = namespace(v=0) %}
    {%- for k in keys %}{% if k not in dkeys %}{% set m.v = m.v + 2 ** (keys | length - 1 - loop.index0) %}{% endif %}{% endfor %}
    {%- do ns.masks.update({name: m.v}) %}
{%- endfor %}

with

visits as (
    select * from {{ ref('fct_visits') }}
),

violations as (
    select * from {{ ref('fct_violations_enriched') }}
),

visit_agg as (
    select
        stat_month,
        grouping({{ keys | join(', ') }}) as grouping_id,
        {%- for k in keys %}
            {{ k }} as g_{{ k }},
        {%- endfor %}
        concat_ws('|', {% for k in keys %}coalesce({{ k }}, ''){% if not loop.last %}, {% endif %}{% endfor %}) as join_key,
        -- an institution's attributes for the institution/department/physician slices
        max(fixmedins_type) as g_fixmedins_type,
        max(hosp_lv) as g_inst_hosp_lv,
        max(admdvs) as g_inst_admdvs,
        count(*) as visits,
        count(distinct psn_no) as persons,
        sum(total_fee) as total_fee,
        sum(fund_pay) as fund_pay,
        sum(line_fee_amount) as line_fee,
        sum(drug_fee_amount) as drug_fee,
        sum(herbal_fee_amount) as herbal_fee,
        count(*) filter (where is_inpatient) as inpatient_stays,
        sum(stay_days) filter (where is_inpatient) as stay_days,
        sum(total_fee) filter (where is_inpatient) as stay_fee
    from visits
    group by
        stat_month,
        grouping sets (
            {%- for name, dkeys in dims %}
                ({{ dkeys | join(', ') }}){% if not loop.last %},{% endif %}
            {%- endfor %}
        )
),

violation_agg as (
    select
        stat_month,
        grouping({{ keys | join(', ') }}) as grouping_id,
        {%- for k in keys %}
            {{ k }} as g_{{ k }},
        {%- endfor %}
        concat_ws('|', {% for k in keys %}coalesce({{ k }}, ''){% if not loop.last %}, {% endif %}{% endfor %}) as join_key,
        max(fixmedins_type) as g_fixmedins_type,
        max(hosp_lv) as g_inst_hosp_lv,
        max(admdvs) as g_inst_admdvs,
        count(*) as violation_count,
        sum(amount) as suspect_amount,
        count(*) filter (where disposition = 'deduct') as deduct_count,
        coalesce(sum(amount) filter (where disposition = 'deduct'), 0) as deduct_amount,
        count(*) filter (where disposition = 'hospital_review') as hospital_review_count,
        coalesce(sum(amount) filter (where disposition = 'hospital_review'), 0) as hospital_review_amount,
        count(*) filter (where disposition = 'pending_review') as pending_review_count,
        coalesce(sum(amount) filter (where disposition = 'pending_review'), 0) as pending_review_amount
    from violations
    group by
        stat_month,
        grouping sets (
            {%- for name, dkeys in dims %}
                ({{ dkeys | join(', ') }}){% if not loop.last %},{% endif %}
            {%- endfor %}
        )
),

joined as (
    select
        coalesce(va.stat_month, xa.stat_month) as stat_month,
        coalesce(va.grouping_id, xa.grouping_id) as grouping_id,
        {%- for k in keys %}
            coalesce(va.g_{{ k }}, xa.g_{{ k }}) as {{ k }},
        {%- endfor %}
        coalesce(va.g_fixmedins_type, xa.g_fixmedins_type) as inst_fixmedins_type,
        coalesce(va.g_inst_hosp_lv, xa.g_inst_hosp_lv) as inst_hosp_lv,
        coalesce(va.g_inst_admdvs, xa.g_inst_admdvs) as inst_admdvs,
        coalesce(va.visits, 0) as visits,
        coalesce(va.persons, 0) as persons,
        coalesce(va.total_fee, 0) as total_fee,
        coalesce(va.fund_pay, 0) as fund_pay,
        coalesce(va.line_fee, 0) as line_fee,
        coalesce(va.drug_fee, 0) as drug_fee,
        coalesce(va.herbal_fee, 0) as herbal_fee,
        coalesce(va.inpatient_stays, 0) as inpatient_stays,
        coalesce(va.stay_days, 0) as stay_days,
        coalesce(va.stay_fee, 0) as stay_fee,
        coalesce(xa.violation_count, 0) as violation_count,
        coalesce(xa.suspect_amount, 0) as suspect_amount,
        coalesce(xa.deduct_count, 0) as deduct_count,
        coalesce(xa.deduct_amount, 0) as deduct_amount,
        coalesce(xa.hospital_review_count, 0) as hospital_review_count,
        coalesce(xa.hospital_review_amount, 0) as hospital_review_amount,
        coalesce(xa.pending_review_count, 0) as pending_review_count,
        coalesce(xa.pending_review_amount, 0) as pending_review_amount
    from visit_agg as va
    full outer join violation_agg as xa
        on
            va.grouping_id = xa.grouping_id
            and va.stat_month = xa.stat_month
            and va.join_key = xa.join_key
),

labelled as (
    select
        case grouping_id
            {%- for name, dkeys in dims %}
                when {{ ns.masks[name] }} then '{{ name }}'
            {%- endfor %}
        end as dimension,
        *
    from joined
),

final as (
    select
        dimension,
        case dimension
            {%- for name, dkeys in dims %}
                when '{{ name }}' then {% if dkeys %}concat_ws('|', {{ dkeys | join(', ') }}){% else %}'ALL'{% endif %}
            {%- endfor %}
        end as member_key,
        stat_month,
        fixmedins_code,
        dept_codg,
        prac_codg,
        dise_category,
        psn_no,
        insutype,
        case when dimension in ('institution', 'department', 'physician') then inst_fixmedins_type end as fixmedins_type,
        case when dimension in ('institution', 'department', 'physician') then inst_hosp_lv else hosp_lv end as hosp_lv,
        case when dimension in ('institution', 'department', 'physician') then inst_admdvs else admdvs end as admdvs,
        visits,
        persons,
        round(visits::numeric / nullif(persons, 0), 4) as visits_per_person,
        total_fee,
        fund_pay,
        round(fund_pay / nullif(total_fee, 0), 4) as fund_pay_ratio,
        round(total_fee / nullif(visits, 0), 2) as avg_fee_per_visit,
        inpatient_stays,
        round(stay_days::numeric / nullif(inpatient_stays, 0), 2) as avg_stay_days,
        round(stay_fee / nullif(inpatient_stays, 0), 2) as fee_per_stay,
        drug_fee,
        round(drug_fee / nullif(line_fee, 0), 4) as drug_share,
        herbal_fee,
        round(herbal_fee / nullif(line_fee, 0), 4) as herbal_share,
        violation_count,
        suspect_amount,
        deduct_count,
        deduct_amount,
        hospital_review_count,
        hospital_review_amount,
        pending_review_count,
        pending_review_amount
    from labelled
    -- a slice needs its keys: visits without a department (pharmacy sales) or
    -- suspects without an institution (person-period rules) count city-wide only
    where
        {%- for name, dkeys in dims %}
            (dimension = '{{ name }}'{% for k in dkeys %} and {{ k }} is not null{% endfor %}){% if not loop.last %} or{% endif %}
        {%- endfor %}
)

select * from final
