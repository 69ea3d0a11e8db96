{{ config(materialized='view') }}

{#- Drug lines (list_type 101 with prd_days set), inpatient and pharmacy lines
    included, with the day their supply runs out. -#}

with fee_lines as (

    select * from {{ ref('int_fee_lines') }}

),

final as (

    select
        line_source,
        business_date,
        fixmedins_code,
        mdtrt_id,
        feedetl_sn,
        psn_no,
        med_list_codg,
        med_type,
        fee_date as dispense_date,
        prd_days,
        fee_date + prd_days as coverage_end_date,
        cnt,
        pric,
        amount,
        rxno,
        prac_codg,
        built_through_load_id
    from fee_lines
    where list_type = '101' and prd_days is not null

)

select * from final
