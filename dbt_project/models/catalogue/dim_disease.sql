{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ reference_refresh_prehook(['ref_disease']) }}",
    indexes=[{'columns': ['dise_codg', 'valid_from']}]
) }}

with history as (

    {{ snapshot_history(
        ref('stg_ref_disease'),
        ['dise_codg'],
        ['dise_name', 'chapter']
    ) }}

),

final as (

    select
        {{ history_sk(['dise_codg']) }} as disease_sk,
        dise_codg,
        dise_name,
        chapter,
        -- ICD-10 3-character category: the first 3 characters as delivered (I10.X00 -> I10)
        left(dise_codg, 3) as dise_category,
        {{ history_columns() }},
        cast({{ current_load_watermark() }} as bigint) as built_through_load_id
    from history

)

select * from final{{ reference_refresh_filter(['ref_disease']) }}
