with source as (

    select * from {{ source('staging', 'his_diag') }}

),

final as (

    select
        business_date,
        {{ clean_code('mdtrt_id') }} as mdtrt_id,
        {{ clean_code('diag_type') }} as diag_type,
        diag_srt_no,
        {{ clean_code('diag_code') }} as diag_code,
        {{ clean_text('diag_name') }} as diag_name,
        {{ clean_code('maindiag_flag') }} as maindiag_flag,
        source_file,
        source_line,
        load_id
    from source

)

select * from final
