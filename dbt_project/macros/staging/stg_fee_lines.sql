{#- The staging view of a fee-line extract. his_feedetail and pharmacy_sales
    share one contract layout (extracts.md), so stg_his_feedetail and
    stg_pharmacy_sales are the same projection of their own source: codes
    cleaned, the prescriber's name masked, refunds flagged (init_feedetl_sn set). -#}
{% macro stg_fee_lines(source_name) %}
with source as (

    select * from {{ source('staging', source_name) }}

),

final as (

    select
        business_date,
        {{ clean_code('feedetl_sn') }} as feedetl_sn,
        {{ clean_code('init_feedetl_sn') }} as init_feedetl_sn,
        {{ clean_code('mdtrt_id') }} as mdtrt_id,
        {{ clean_code('psn_no') }} as psn_no,
        {{ clean_code('fixmedins_code') }} as fixmedins_code,
        {{ clean_code('med_type') }} as med_type,
        fee_ocur_time as fee_time,
        cast(fee_ocur_time as date) as fee_date,
        {{ clean_code('med_list_codg') }} as med_list_codg,
        {{ clean_code('medins_list_codg') }} as medins_list_codg,
        {{ clean_code('list_type') }} as list_type,
        cnt,
        pric,
        det_item_fee_sumamt as amount,
        {{ clean_code('bilg_dept_codg') }} as dept_codg,
        {{ clean_text('bilg_dept_name') }} as dept_name,
        {{ clean_code('bilg_dr_codg') }} as prac_codg,
        {{ mask_name('bilg_dr_name') }} as prac_name,
        {{ clean_code('rxno') }} as rxno,
        prd_days,
        {{ clean_code('hosp_appr_flag') }} as hosp_appr_flag,
        {{ clean_code('init_feedetl_sn') }} is not null as is_refund,
        source_file,
        source_line,
        load_id
    from source

)

select * from final
{% endmacro %}
