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
        {{ history_sk(['psn_no', 'dise_type']) }} as registration_sk,
        psn_no,
        dise_type,
        dise_codg,
        begn_date,
        end_date,
        {{ history_columns() }}
    from history

)

select * from final
