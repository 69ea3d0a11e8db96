{{ config(rule_scope='visit') }}
-- depends_on: {{ ref('int_rule_fee_lines') }}
-- R16 非医保医师开单 unregistered prescriber (HIS line): anything but an active
-- physician (prac_type 1) of the line's institution on the fee date, reading the
-- practitioner version valid on the fee date.
with

rc as (
    {{ rule_catalogue('R16') }}
),

judged as (
    select
        lf.*,
        pr.prac_type,
        pr.fixmedins_code as prac_fixmedins_code,
        pr.begn_date as prac_begn_date,
        pr.end_date as prac_end_date,
        case
            when lf.prac_codg is null then 'missing'
            when pr.prac_codg is null then 'unknown'
            when pr.prac_type <> '1' then 'not_physician'
            when pr.fixmedins_code <> lf.fixmedins_code then 'other_institution'
            when not {{ rule_is_active('pr', 'lf.fee_date') }} then 'inactive'
        end as reason
    from ({{ rule_live_fee_lines() }}) as lf
    left join {{ ref('dim_practitioner') }} as pr
        on
            pr.prac_codg = lf.prac_codg
            and {{ rule_as_of('pr', 'lf.fee_date') }}
    where lf.line_source = 'his'
),

suspects as (
    select
        {{ rule_line_grain('ju') }},
        ju.amount as raw_amount,
        jsonb_build_object(
            'reason', ju.reason,
            'prac_type', ju.prac_type,
            'prac_fixmedins_code', ju.prac_fixmedins_code,
            'prac_begn_date', ju.prac_begn_date,
            'prac_end_date', ju.prac_end_date,
            'line_amount', ju.amount
        ) as evidence
    from judged as ju
    where ju.reason is not null
),

final as (
    {{ rule_output() }}
)

select * from final
