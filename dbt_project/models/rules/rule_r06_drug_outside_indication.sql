{{ config(rule_scope='visit') }}
-- depends_on: {{ ref('int_rule_fee_lines') }}
-- R06 限定诊断用药 drug outside its indication (HIS line). The item's
-- lmt_dise_codes (as of the fee date) are ICD-10 prefixes joined by '|'; a
-- visit's diagnoses are its main diagnosis plus every his_diag code.
with

rc as (
    {{ rule_catalogue('R06') }}
),

restricted_lines as (
    select
        lf.*,
        ml.lmt_dise_codes,
        array(
            select upper(trim(pfx.code))
            from unnest(string_to_array(ml.lmt_dise_codes, '|')) as pfx (code)
            where trim(pfx.code) <> ''
        ) as prefixes
    from ({{ rule_live_fee_lines() }}) as lf
    inner join {{ ref('dim_med_list') }} as ml
        on
            ml.med_list_codg = lf.med_list_codg
            and {{ rule_as_of('ml', 'lf.fee_date') }}
    where lf.line_source = 'his' and nullif(trim(ml.lmt_dise_codes), '') is not null
),

with_diagnoses as (
    select
        rl.*,
        coalesce(vi.diag_codes, cast('{}' as text[])) as diag_codes
    from restricted_lines as rl
    left join {{ ref('int_visits') }} as vi
        on vi.mdtrt_id = rl.mdtrt_id and vi.fixmedins_code = rl.fixmedins_code
),

suspects as (
    select
        {{ rule_line_grain('wd') }},
        wd.amount as raw_amount,
        jsonb_build_object(
            'lmt_dise_codes', wd.lmt_dise_codes,
            'diag_codes', to_jsonb(wd.diag_codes),
            'line_amount', wd.amount
        ) as evidence
    from with_diagnoses as wd
    where
        cardinality(wd.prefixes) > 0
        and not exists (
            select 1
            from unnest(wd.prefixes) as pf (prefix)
            cross join unnest(wd.diag_codes) as dg (code)
            where starts_with(upper(trim(dg.code)), pf.prefix)
        )
),

final as (
    {{ rule_output() }}
)

select * from final
