with source as (

    select * from {{ source('staging', 'ref_disease') }}

),

final as (

    select
        snapshot_date,
        {{ clean_code('dise_codg') }} as dise_codg,
        {{ clean_text('dise_name') }} as dise_name,
        {{ clean_code('chapter') }} as chapter,
        source_file,
        source_line,
        load_id
    from source

)

select * from final
