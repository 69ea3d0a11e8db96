{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ reference_refresh_prehook(['ref_practitioner']) }}",
    indexes=[{'columns': ['prac_codg', 'valid_from']}, {'columns': ['fixmedins_code']}]
) }}

with history as (

    {{ snapshot_history(
        ref('stg_ref_practitioner'),
        ['prac_codg'],
        ['prac_name', 'prac_type', 'fixmedins_code', 'dept_codg', 'begn_date', 'end_date']
    ) }}

),

final as (

    select
        {{ history_sk(['prac_codg']) }} as practitioner_sk,
        prac_codg,
        prac_name,
        prac_type,
        fixmedins_code,
        dept_codg,
        begn_date,
        end_date,
        {{ history_columns() }},
        cast({{ current_load_watermark() }} as bigint) as built_through_load_id
    from history

)

select * from final{{ reference_refresh_filter(['ref_practitioner']) }}
