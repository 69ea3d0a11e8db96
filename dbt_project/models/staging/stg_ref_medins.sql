with source as (

    select * from {{ source('staging', 'ref_medins') }}

),

final as (

    select
        snapshot_date,
        {{ clean_code('fixmedins_code') }} as fixmedins_code,
        {{ clean_text('fixmedins_name') }} as fixmedins_name,
        {{ clean_code('fixmedins_type') }} as fixmedins_type,
        {{ clean_code('hosp_lv') }} as hosp_lv,
        {{ clean_code('admdvs') }} as admdvs,
        begn_date,
        end_date,
        source_file,
        source_line,
        load_id
    from source

)

select * from final
