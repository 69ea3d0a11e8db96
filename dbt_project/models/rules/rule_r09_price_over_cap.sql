{{ config(rule_scope='visit') }}
-- depends_on: {{ ref('int_rule_fee_lines') }}
-- R09 超限价 price over cap (line): pric above the item's max_pric (as of the
-- fee date); the amount is the excess times the net quantity.
with

rc as (
    {{ rule_catalogue('R09') }}
),

suspects as (
    select
        {{ rule_line_grain('lf') }},
        (lf.pric - ml.max_pric) * lf.cnt as raw_amount,
        jsonb_build_object(
            'pric', lf.pric,
            'max_pric', ml.max_pric,
            'cnt', lf.cnt,
            'line_amount', lf.amount
        ) as evidence
    from ({{ rule_live_fee_lines() }}) as lf
    inner join {{ ref('dim_med_list') }} as ml
        on
            ml.med_list_codg = lf.med_list_codg
            and {{ rule_as_of('ml', 'lf.fee_date') }}
    where ml.max_pric is not null and lf.pric > ml.max_pric
),

final as (
    {{ rule_output() }}
)

select * from final
