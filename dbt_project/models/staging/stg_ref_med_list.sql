with source as (

    select * from {{ source('staging', 'ref_med_list') }}

),

final as (

    select
        snapshot_date,
        {{ clean_code('med_list_codg') }} as med_list_codg,
        {{ clean_text('med_list_name') }} as med_list_name,
        {{ clean_code('list_type') }} as list_type,
        {{ clean_code('chrgitm_lv') }} as chrgitm_lv,
        {{ clean_text('spec') }} as spec,
        {{ clean_text('unit') }} as unit,
        max_pric,
        {{ clean_code('lmt_gend') }} as lmt_gend,
        lmt_age_min,
        lmt_age_max,
        {{ clean_code('lmt_dise_codes') }} as lmt_dise_codes,
        max_days,
        {{ clean_code('precious_flag') }} as precious_flag,
        source_file,
        source_line,
        load_id
    from source

)

select * from final
