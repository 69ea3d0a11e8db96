{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ reference_refresh_prehook(['ref_med_list']) }}",
    indexes=[{'columns': ['med_list_codg', 'valid_from']}]
) }}

with history as (

    {{ snapshot_history(
        ref('stg_ref_med_list'),
        ['med_list_codg'],
        ['med_list_name', 'list_type', 'chrgitm_lv', 'spec', 'unit', 'max_pric', 'lmt_gend',
         'lmt_age_min', 'lmt_age_max', 'lmt_dise_codes', 'max_days', 'precious_flag']
    ) }}

),

final as (

    select
        {{ history_sk(['med_list_codg']) }} as med_list_sk,
        med_list_codg,
        med_list_name,
        list_type,
        chrgitm_lv,
        spec,
        unit,
        cast(max_pric as numeric(18, 6)) as max_pric,
        lmt_gend,
        lmt_age_min,
        lmt_age_max,
        lmt_dise_codes,
        -- the prefixes as an array, blanks between the bars dropped
        case
            when lmt_dise_codes is not null
                then array_remove(string_to_array(replace(lmt_dise_codes, ' ', ''), '|'), '')
        end as lmt_dise_prefixes,
        max_days,
        precious_flag,
        {{ history_columns() }},
        cast({{ current_load_watermark() }} as bigint) as built_through_load_id
    from history

)

select * from final{{ reference_refresh_filter(['ref_med_list']) }}
