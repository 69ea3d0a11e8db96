with source as (

    select * from {{ source('staging', 'ref_psn_special_dise') }}

),

final as (

    select
        snapshot_date,
        {{ clean_code('psn_no') }} as psn_no,
        {{ clean_code('dise_type') }} as dise_type,
        {{ clean_code('dise_codg') }} as dise_codg,
        begn_date,
        end_date,
        source_file,
        source_line,
        load_id
    from source

)

select * from final
