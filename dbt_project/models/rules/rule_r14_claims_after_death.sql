{{ config(rule_scope='visit') }}
-- depends_on: {{ ref('int_rule_fee_lines') }}
-- R14 死亡后就医 claims after death (line): fee date after the person's death
-- date. death_date is a fact, so the latest known value is used, not the
-- version as of the fee date.
with

rc as (
    {{ rule_catalogue('R14') }}
),

deaths as (
    select
        ps.psn_no,
        max(ps.latest_death_date) as death_date
    from {{ ref('dim_person') }} as ps
    where ps.latest_death_date is not null
    group by ps.psn_no
),

suspects as (
    select
        {{ rule_line_grain('lf') }},
        lf.amount as raw_amount,
        jsonb_build_object(
            'death_date', de.death_date,
            'fee_date', lf.fee_date,
            'line_amount', lf.amount
        ) as evidence
    from ({{ rule_live_fee_lines() }}) as lf
    inner join deaths as de on de.psn_no = lf.psn_no
    where lf.fee_date > de.death_date
),

final as (
    {{ rule_output() }}
)

select * from final
