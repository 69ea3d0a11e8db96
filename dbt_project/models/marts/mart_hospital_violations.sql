{#- amount: the suspect-detail charts list the largest amounts first (bench/bench_dashboards.py) -#}
{{ config(
    indexes=[
        {'columns': ['violation_id'], 'unique': true},
        {'columns': ['fixmedins_code', 'stat_month']},
        {'columns': ['stat_month']},
        {'columns': ['amount']},
    ]
) }}

-- 本院违规明细 every suspect, one row per suspect, ready for the institution
-- to download: rule name (zh + en), disposition, readable evidence and masked
-- personal data. Row-level security restricts hospital roles to their own
-- fixmedins_code (docs/security.md); person-period suspects (R01-R03, no
-- institution) are visible to auditors only.

with

violations as (
    select * from {{ ref('fct_violations_enriched') }}
),

rules as (
    select
        code as rule_code,
        name_zh as rule_name_zh,
        name_en as rule_name_en,
        description as rule_description
    from {{ ref('audit_rules') }}
),

persons as (
    select distinct on (psn_no)
        psn_no,
        certno,
        psn_name
    from {{ ref('dim_person') }}
    order by psn_no asc, valid_from desc
),

evidence_text as (
    select
        v.violation_id,
        string_agg(e.key || ': ' || e.value, '; ' order by e.key) as evidence_text
    from violations as v
    cross join
        lateral jsonb_each_text(
            case when jsonb_typeof(v.evidence) = 'object' then v.evidence else '{}'::jsonb end
        ) as e
    group by v.violation_id
),

final as (
    select
        v.violation_id,
        v.fixmedins_code,
        v.fixmedins_name,
        v.hosp_lv,
        v.admdvs,
        v.stat_month,
        v.business_date,
        v.period_start,
        v.rule_code,
        r.rule_name_zh,
        r.rule_name_en,
        r.rule_description,
        v.rule_version,
        v.disposition,
        case v.disposition
            when 'deduct' then '违规费用'
            when 'hospital_review' then '发医院核查'
            when 'pending_review' then '待核查'
        end as disposition_zh,
        v.severity,
        case v.severity when 'red' then '红' when 'yellow' then '黄' when 'green' then '绿' end as severity_zh,
        v.dept_codg,
        v.prac_codg,
        v.psn_no,
        -- dim_person is masked already; masking again is idempotent and keeps
        -- this download safe whatever the catalogue does
        {{ mask_name('p.psn_name') }} as psn_name_masked,
        {{ mask_certno('p.certno') }} as certno_masked,
        v.mdtrt_id,
        v.feedetl_sn,
        v.rxno,
        v.amount,
        coalesce(et.evidence_text, '') as evidence_text,
        v.evidence,
        v.detected_at
    from violations as v
    left join rules as r on v.rule_code = r.rule_code
    left join persons as p on v.psn_no = p.psn_no
    left join evidence_text as et on v.violation_id = et.violation_id
)

select * from final
