{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ reference_refresh_prehook(['ref_psn']) }}",
    indexes=[{'columns': ['psn_no', 'valid_from']}]
) }}

with history as (

    {{ snapshot_history(
        ref('stg_ref_psn'),
        ['psn_no'],
        ['certno', 'psn_name', 'gend', 'brdy', 'insutype', 'psn_type', 'insu_admdvs', 'death_date']
    ) }}

),

-- death_date is a fact, not a versioned attribute (audit-rules.md): R14 reads
-- the value of the newest snapshot that lists the person, on every version
latest as (

    select
        psn_no,
        death_date as latest_death_date
    from history
    where is_latest_version

),

final as (

    select
        {{ history_sk(['psn_no'], 'history') }} as person_sk,
        history.psn_no,
        history.certno,
        history.psn_name,
        history.gend,
        history.brdy,
        history.insutype,
        history.psn_type,
        history.insu_admdvs,
        history.death_date,
        latest.latest_death_date,
        {{ history_columns('history') }},
        cast({{ current_load_watermark() }} as bigint) as built_through_load_id
    from history
    inner join latest on history.psn_no = latest.psn_no

)

select * from final{{ reference_refresh_filter(['ref_psn']) }}
