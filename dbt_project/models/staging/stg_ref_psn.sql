with source as (

    select * from {{ source('staging', 'ref_psn') }}

),

final as (

    select
        snapshot_date,
        {{ clean_code('psn_no') }} as psn_no,
        {{ mask_certno('certno') }} as certno,
        {{ mask_name('psn_name') }} as psn_name,
        {{ clean_code('gend') }} as gend,
        brdy,
        {{ clean_code('insutype') }} as insutype,
        {{ clean_code('psn_type') }} as psn_type,
        {{ clean_code('insu_admdvs') }} as insu_admdvs,
        death_date,
        source_file,
        source_line,
        load_id
    from source

)

select * from final
