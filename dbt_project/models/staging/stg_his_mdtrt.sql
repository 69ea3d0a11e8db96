with source as (

    select * from {{ source('staging', 'his_mdtrt') }}

),

final as (

    select
        business_date,
        {{ clean_code('mdtrt_id') }} as mdtrt_id,
        {{ clean_code('psn_no') }} as psn_no,
        {{ clean_code('fixmedins_code') }} as fixmedins_code,
        {{ clean_code('med_type') }} as med_type,
        {{ clean_code('insutype') }} as insutype,
        begntime as begin_time,
        endtime as end_time,
        {{ clean_code('dept_codg') }} as dept_codg,
        {{ clean_text('dept_name') }} as dept_name,
        {{ clean_code('atddr_no') }} as prac_codg,
        {{ clean_code('dise_codg') }} as main_dise_codg,
        {{ clean_text('dise_name') }} as main_dise_name,
        {{ clean_code('ipt_otp_no') }} as ipt_otp_no,
        source_file,
        source_line,
        load_id
    from source

)

select * from final
