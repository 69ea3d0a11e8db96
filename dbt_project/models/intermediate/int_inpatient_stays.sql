{{ config(materialized='view') }}

{#- Inpatient stays: non-cancelled med_type 21 visits. -#}

with visits as (

    select * from {{ ref('int_visits') }}

),

final as (

    select
        mdtrt_id,
        business_date,
        psn_no,
        fixmedins_code,
        visit_date as admission_date,
        discharge_date,
        discharge_date - visit_date as length_of_stay_days,
        main_dise_codg,
        left(main_dise_codg, 3) as dise_category,
        fund_amount,
        medfee_amount,
        dept_codg,
        prac_codg,
        begin_time,
        end_time
    from visits
    where med_type = '21' and not is_cancelled

)

select * from final
