{{ config(rule_scope='visit') }}
-- depends_on: {{ ref('int_rule_fee_lines') }}
-- R08 限年龄 age-restricted item (line): the person's age in whole years on the
-- fee date is below lmt_age_min or above lmt_age_max (item as of the fee date).
with

rc as (
    {{ rule_catalogue('R08') }}
),

aged_lines as (
    select
        lf.*,
        ml.lmt_age_min,
        ml.lmt_age_max,
        ps.brdy,
        cast(extract(year from age(lf.fee_date, ps.brdy)) as integer) as age_years
    from ({{ rule_live_fee_lines() }}) as lf
    inner join {{ ref('dim_med_list') }} as ml
        on
            ml.med_list_codg = lf.med_list_codg
            and {{ rule_as_of('ml', 'lf.fee_date') }}
    inner join {{ ref('dim_person') }} as ps
        on
            ps.psn_no = lf.psn_no
            and {{ rule_as_of('ps', 'lf.fee_date') }}
    where ml.lmt_age_min is not null or ml.lmt_age_max is not null
),

suspects as (
    select
        {{ rule_line_grain('al') }},
        al.amount as raw_amount,
        jsonb_build_object(
            'age', al.age_years,
            'brdy', al.brdy,
            'lmt_age_min', al.lmt_age_min,
            'lmt_age_max', al.lmt_age_max,
            'line_amount', al.amount
        ) as evidence
    from aged_lines as al
    where al.age_years < al.lmt_age_min or al.age_years > al.lmt_age_max
),

final as (
    {{ rule_output() }}
)

select * from final
