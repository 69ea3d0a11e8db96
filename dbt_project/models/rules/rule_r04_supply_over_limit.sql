{{ config(rule_scope='visit') }}
-- depends_on: {{ ref('int_rule_fee_lines') }}
-- R04 超量开药 supply over limit (line). Limit: the item's max_days (as of the
-- fee date) when set, else the threshold for med_type 11/13 and threshold_alt
-- for med_type 14/41, per the institution's hosp_lv. Inpatient lines are exempt.
with

rc as (
    {{ rule_catalogue('R04') }}
),

ov as (
    {{ rule_overrides('R04') }}
),

drug_lines as (
    select lf.*
    from ({{ rule_live_fee_lines() }}) as lf
    where lf.list_type = '101' and lf.prd_days is not null and lf.med_type <> '21'
),

limits as (
    select
        dl.*,
        ml.max_days,
        inst.hosp_lv,
        case
            when ml.max_days is not null then ml.max_days
            when dl.med_type in ('11', '13') then {{ rule_threshold('threshold') }}
            when dl.med_type in ('14', '41') then {{ rule_threshold('threshold_alt') }}
        end as day_limit
    from drug_lines as dl
    cross join rc
    left join {{ ref('dim_med_list') }} as ml
        on
            ml.med_list_codg = dl.med_list_codg
            and {{ rule_as_of('ml', 'dl.fee_date') }}
    {{ rule_join_institution_as_of('dl', 'dl.fee_date') }}
    left join ov on ov.hosp_lv = inst.hosp_lv
),

suspects as (
    select
        {{ rule_line_grain('li') }},
        -- multiply before dividing: one rounding step only
        li.amount * (li.prd_days - li.day_limit) / li.prd_days as raw_amount,
        jsonb_build_object(
            'prd_days', li.prd_days,
            'threshold', li.day_limit,
            'limit_source', case when li.max_days is not null then 'max_days' else 'default' end,
            'med_type', li.med_type,
            'hosp_lv', li.hosp_lv,
            'line_amount', li.amount
        ) as evidence
    from limits as li
    where li.prd_days > li.day_limit
),

final as (
    {{ rule_output() }}
)

select * from final
