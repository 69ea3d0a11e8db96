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
-- the value of the newest snapshot that lists the person, on every version.
-- A window over the person's versions, not a join of the history to its own
-- latest rows: the planner cannot estimate the cleaned psn_no (it took 200
-- distinct values and 1 history row) and joined 3 million persons to
-- themselves in a nested loop (stopped after 35 minutes).
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
        max(history.death_date) filter (where history.is_latest_version) over (
            partition by history.psn_no
        ) as latest_death_date,
        {{ history_columns('history') }},
        cast({{ current_load_watermark() }} as bigint) as built_through_load_id
    from history

)

select * from final{{ reference_refresh_filter(['ref_psn']) }}
