{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ reference_refresh_prehook(['ref_medins']) }}",
    indexes=[{'columns': ['fixmedins_code', 'valid_from']}]
) }}

with history as (

    {{ snapshot_history(
        ref('stg_ref_medins'),
        ['fixmedins_code'],
        ['fixmedins_name', 'fixmedins_type', 'hosp_lv', 'admdvs', 'begn_date', 'end_date']
    ) }}

),

final as (

    select
        {{ history_sk(['fixmedins_code']) }} as institution_sk,
        fixmedins_code,
        fixmedins_name,
        fixmedins_type,
        case left(fixmedins_code, 1)
            when 'H' then 'hospital'
            when 'P' then 'pharmacy'
        end as institution_kind,
        substr(fixmedins_code, 2, 6) as region_code,
        hosp_lv,
        admdvs,
        begn_date,
        end_date,
        {{ history_columns() }},
        cast({{ current_load_watermark() }} as bigint) as built_through_load_id
    from history

)

select * from final{{ reference_refresh_filter(['ref_medins']) }}
