{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ reference_refresh_prehook(['ref_psn_special_dise']) }}",
    indexes=[{'columns': ['psn_no', 'dise_type', 'valid_from']}]
) }}

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
        {{ history_columns() }},
        cast({{ current_load_watermark() }} as bigint) as built_through_load_id
    from history

)

select * from final{{ reference_refresh_filter(['ref_psn_special_dise']) }}
