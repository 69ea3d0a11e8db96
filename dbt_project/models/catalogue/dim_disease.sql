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
        md5(dise_codg || '|' || cast(valid_from as text)) as disease_sk,
        dise_codg,
        dise_name,
        chapter,
        -- ICD-10 3-character category: the first 3 characters as delivered (I10.X00 -> I10)
        left(dise_codg, 3) as dise_category,
        version_no,
        valid_from,
        valid_to,
        valid_to is null as is_current,
        is_latest_version
    from history

)

select * from final
