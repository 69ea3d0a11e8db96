{{ config(rule_scope='visit') }}
-- depends_on: {{ ref('int_rule_fee_lines') }}
-- R11 重复收费 duplicate charge (line): list_type 201 lines of one visit with the
-- same item, fee time, net quantity and price; the lowest feedetl_sn (text
-- order) is kept, every later one is a suspect.
with

rc as (
    {{ rule_catalogue('R11') }}
),

ranked as (
    select
        lf.*,
        row_number() over (
            partition by lf.fixmedins_code, lf.mdtrt_id, lf.med_list_codg, lf.fee_time, lf.cnt, lf.pric
            order by lf.feedetl_sn
        ) as copy_rank,
        first_value(lf.feedetl_sn) over (
            partition by lf.fixmedins_code, lf.mdtrt_id, lf.med_list_codg, lf.fee_time, lf.cnt, lf.pric
            order by lf.feedetl_sn
        ) as kept_feedetl_sn
    from ({{ rule_live_fee_lines() }}) as lf
    where lf.list_type = '201'
),

suspects as (
    select
        {{ rule_line_grain('rk') }},
        rk.amount as raw_amount,
        jsonb_build_object(
            'kept_feedetl_sn', rk.kept_feedetl_sn,
            'copy_rank', rk.copy_rank,
            'fee_time', rk.fee_time,
            'cnt', rk.cnt,
            'pric', rk.pric,
            'line_amount', rk.amount
        ) as evidence
    from ranked as rk
    where rk.copy_rank > 1
),

final as (
    {{ rule_output() }}
)

select * from final
