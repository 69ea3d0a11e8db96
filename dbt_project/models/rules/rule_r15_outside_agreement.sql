{{ config(rule_scope='visit') }}
-- depends_on: {{ ref('int_rule_fee_lines') }}
-- R15 非协议期结算 institution outside its agreement (visit): no active
-- agreement (begn_date..end_date of the institution version valid on the visit
-- date) on the visit date; an institution absent from the catalogue has none.
with

rc as (
    {{ rule_catalogue('R15') }}
),

visits as (
    select
        lv.*,
        inst.fixmedins_code as catalogue_code,
        inst.begn_date as agreement_begn_date,
        inst.end_date as agreement_end_date
    from ({{ rule_live_visits() }}) as lv
    {{ rule_join_institution_as_of('lv', 'lv.visit_date') }}
),

suspects as (
    select
        {{ rule_visit_grain('vi', 'vi.visit_date') }},
        vi.fund_amount as raw_amount,
        jsonb_build_object(
            'in_catalogue', vi.catalogue_code is not null,
            'agreement_begn_date', vi.agreement_begn_date,
            'agreement_end_date', vi.agreement_end_date,
            'visit_date', vi.visit_date
        ) as evidence
    from visits as vi
    where
        vi.catalogue_code is null
        or not (
            vi.agreement_begn_date <= vi.visit_date
            and (vi.agreement_end_date is null or vi.visit_date <= vi.agreement_end_date)
        )
),

final as (
    {{ rule_output() }}
)

select * from final
