{{ config(rule_scope='dispensing_person') }}
-- depends_on: {{ ref('int_rule_fee_lines') }}
-- R05 重复开药 early refill (line). For each drug line on d2, the latest coverage
-- end among the same person's dispensings of the same drug on earlier days
-- (d1 < d2, any institution, inpatient lines included).
with

rc as (
    {{ rule_catalogue('R05') }}
),

ov as (
    {{ rule_overrides('R05') }}
),

drug_lines as (
    select
        lf.*,
        lf.fee_date + lf.prd_days as coverage_end_date
    from ({{ rule_live_fee_lines("fl.list_type = '101' and fl.prd_days is not null") }}) as lf
),

with_previous as (
    select
        dl.*,
        -- earlier days only: the frame ends one day before this line's date
        max(dl.coverage_end_date) over (
            partition by dl.psn_no, dl.med_list_codg
            order by dl.fee_date
            range between unbounded preceding and interval '1 day' preceding
        ) as previous_coverage_end
    from drug_lines as dl
),

remaining as (
    select
        wp.*,
        wp.previous_coverage_end - wp.fee_date as remaining_days,
        inst.hosp_lv,
        {{ rule_threshold('threshold') }} as threshold
    from with_previous as wp
    cross join rc
    {{ rule_join_institution_as_of('wp', 'wp.fee_date') }}
    left join ov on ov.hosp_lv = inst.hosp_lv
    where wp.previous_coverage_end is not null
),

suspects as (
    select
        {{ rule_line_grain('re') }},
        case
            when re.remaining_days >= re.prd_days then re.amount
            else re.amount * re.remaining_days / re.prd_days
        end as raw_amount,
        jsonb_build_object(
            'remaining_days', re.remaining_days,
            'threshold', re.threshold,
            'previous_coverage_end', re.previous_coverage_end,
            'prd_days', re.prd_days,
            'hosp_lv', re.hosp_lv,
            'line_amount', re.amount
        ) as evidence
    from remaining as re
    where
        re.remaining_days > re.threshold
        and (re.judged_from is null or re.fee_date >= re.judged_from)
),

final as (
    {{ rule_output() }}
)

select * from final
