{{ config(indexes=[{'columns': ['dise_codg', 'valid_from']}]) }}

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
        {{ history_columns() }}
    from history

)

select * from final
