{{ config(rule_scope='visit') }}
-- depends_on: {{ ref('int_rule_fee_lines') }}
-- R07 限性别 gender-restricted item (line): the item's lmt_gend (as of the fee
-- date) differs from the person's gend (as of the fee date).
with

rc as (
    {{ rule_catalogue('R07') }}
),

suspects as (
    select
        {{ rule_line_grain('lf') }},
        lf.amount as raw_amount,
        jsonb_build_object(
            'lmt_gend', ml.lmt_gend,
            'gend', ps.gend,
            'line_amount', lf.amount
        ) as evidence
    from ({{ rule_live_fee_lines() }}) as lf
    inner join {{ ref('dim_med_list') }} as ml
        on
            ml.med_list_codg = lf.med_list_codg
            and {{ rule_as_of('ml', 'lf.fee_date') }}
    inner join {{ ref('dim_person') }} as ps
        on
            ps.psn_no = lf.psn_no
            and {{ rule_as_of('ps', 'lf.fee_date') }}
    where ml.lmt_gend is not null and ps.gend is not null and ml.lmt_gend <> ps.gend
),

final as (
    {{ rule_output() }}
)

select * from final
