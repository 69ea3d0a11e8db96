{{ config(materialized='view') }}

{#- The interface rules read: fee lines net of refunds, zero-quantity lines gone.
    A view over int_fee_line_netting (incremental, indexed), so it never lags. -#}

with netting as (

    select * from {{ ref('int_fee_line_netting') }}

),

final as (

    select
        line_source,
        business_date,
        fixmedins_code,
        mdtrt_id,
        feedetl_sn,
        psn_no,
        med_type,
        fee_time,
        fee_date,
        med_list_codg,
        medins_list_codg,
        list_type,
        cnt,
        pric,
        amount,
        dept_codg,
        prac_codg,
        rxno,
        prd_days,
        hosp_appr_flag,
        original_cnt,
        original_amount,
        refunded_cnt,
        refunded_amount,
        refund_line_count,
        source_file,
        source_line,
        load_id,
        built_through_load_id
    from netting
    where not is_fully_refunded

)

select * from final
