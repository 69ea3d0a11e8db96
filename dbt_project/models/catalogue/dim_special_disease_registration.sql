{{ config(indexes=[{'columns': ['psn_no', 'dise_type', 'valid_from']}]) }}

with history as (

    {{ snapshot_history(
        ref('stg_ref_psn_special_dise'),
        ['psn_no', 'dise_type'],
        ['dise_codg', 'begn_date', 'end_date']
    ) }}

),

final as (

    select
        md5(psn_no || '|' || dise_type || '|' || cast(valid_from as text)) as registration_sk,
        psn_no,
        dise_type,
        dise_codg,
        begn_date,
        end_date,
        version_no,
        valid_from,
        valid_to,
        valid_to is null as is_current,
        is_latest_version
    from history

)

select * from final
