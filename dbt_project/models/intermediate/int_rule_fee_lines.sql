{{ config(materialized='table') }}

{#- Every fee line of the visits in int_rule_changes, as the incremental
    rules read them: the lines refunded in full and the lines of cancelled
    visits included and flagged (their verdicts must disappear), so a rule
    that scopes by person or prescription sees them too. Read by index
    probes per changed visit, never by a scan of the history. -#}

with changed_visits as (

    select distinct
        fixmedins_code,
        mdtrt_id
    from {{ ref('int_rule_changes') }}

),

final as (

    select
        ln.line_source,
        ln.business_date,
        ln.fixmedins_code,
        ln.mdtrt_id,
        ln.feedetl_sn,
        ln.psn_no,
        ln.med_type,
        ln.fee_time,
        ln.fee_date,
        ln.med_list_codg,
        ln.medins_list_codg,
        ln.list_type,
        ln.cnt,
        ln.pric,
        ln.amount,
        ln.dept_codg,
        ln.prac_codg,
        ln.rxno,
        ln.prd_days,
        ln.hosp_appr_flag,
        ln.original_cnt,
        ln.original_amount,
        ln.refunded_cnt,
        ln.refunded_amount,
        ln.refund_line_count,
        ln.source_file,
        ln.source_line,
        ln.load_id,
        ln.is_fully_refunded,
        coalesce(vi.is_cancelled, false) as is_visit_cancelled
    from changed_visits as cv
    cross join
        lateral (
            select n.*
            from {{ ref('int_fee_line_netting') }} as n
            where n.fixmedins_code = cv.fixmedins_code and n.mdtrt_id = cv.mdtrt_id
        ) as ln
    left join lateral (
        select bool_or(v.is_cancelled) as is_cancelled
        from {{ ref('int_visits') }} as v
        where v.fixmedins_code = cv.fixmedins_code and v.mdtrt_id = cv.mdtrt_id
    ) as vi on true

)

select * from final
