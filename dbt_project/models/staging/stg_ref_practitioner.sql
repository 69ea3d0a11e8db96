with source as (

    select * from {{ source('staging', 'ref_practitioner') }}

),

final as (

    select
        snapshot_date,
        {{ clean_code('prac_codg') }} as prac_codg,
        {{ mask_name('prac_name') }} as prac_name,
        {{ clean_code('prac_type') }} as prac_type,
        {{ clean_code('fixmedins_code') }} as fixmedins_code,
        {{ clean_code('dept_codg') }} as dept_codg,
        begn_date,
        end_date,
        source_file,
        source_line,
        load_id
    from source

)

select * from final
