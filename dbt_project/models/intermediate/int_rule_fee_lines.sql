{{ config(materialized='table') }}

{#- Every fee line of the visits in int_rule_changes, as the incremental
    rules read them: the lines refunded in full and the lines of cancelled
    visits included and flagged (their verdicts must disappear), so a rule
    that scopes by person or prescription sees them too. Read by index
    probes per changed visit, never by a scan of the history. -#}

with refresh_base as (

    select rr.base_load_id
    from {{ ref('int_rule_refresh') }} as rr
    where not rr.is_full

),

changed_visits as (

    select distinct
        fixmedins_code,
        mdtrt_id
    from {{ ref('int_rule_changes') }}

),

-- the lines this build re-created (their visits are changes of kind 'line'):
-- a range of the built_through_load_id index
new_lines as (

    select n.*
    from {{ ref('int_fee_line_netting') }} as n
    where n.built_through_load_id > (select base_load_id from refresh_base)

),

-- the older lines of the changed visits: one probe per visit of the
-- (fixmedins_code, mdtrt_id, built_through_load_id) index, which answers a
-- new visit (no older line) without touching the table
old_lines as (

    select ol.*
    from changed_visits as cv
    cross join lateral (
        select n.*
        from {{ ref('int_fee_line_netting') }} as n
        where
            n.fixmedins_code = cv.fixmedins_code
            and n.mdtrt_id = cv.mdtrt_id
            and n.built_through_load_id <= (select base_load_id from refresh_base)
    ) as ol

),

lines as (

    select * from new_lines
    union all
    select * from old_lines

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
        -- through int_visits' partial index of cancelled visits
        exists(
            select 1
            from {{ ref('int_visits') }} as v
            where v.fixmedins_code = ln.fixmedins_code and v.mdtrt_id = ln.mdtrt_id and v.is_cancelled
        ) as is_visit_cancelled
    from lines as ln

)

select * from final
