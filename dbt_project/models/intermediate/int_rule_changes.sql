{{ config(
    materialized='table',
    indexes=[{'columns': ['fixmedins_code', 'mdtrt_id']}],
    post_hook="{{ prune_intermediate_deletions() }}"
) }}

{#- What changed in the rules' inputs since the previous build
    (int_rule_refresh.base_load_id): visits int_visits re-created, visits whose
    fee lines int_fee_line_netting re-created, and the visits and lines either
    model deleted (meta.intermediate_deletions: a corrected re-delivery that
    dropped them). Empty when the rules rebuild in full. The rules derive
    their refresh scopes from it (macros/rules/rule_incremental.sql). -#}

with refresh_base as (

    -- no row when the rules rebuild in full: every filter below is then false
    select rr.base_load_id
    from {{ ref('int_rule_refresh') }} as rr
    where not rr.is_full

),

rebuilt_visits as (

    select
        'visit' as change_kind,
        vi.fixmedins_code,
        vi.mdtrt_id,
        vi.psn_no,
        vi.visit_date as event_date,
        vi.med_type,
        cast(null as text) as med_list_codg,
        cast(null as text) as list_type,
        cast(null as text) as rxno
    from {{ ref('int_visits') }} as vi
    -- through the built_through_load_id index: the rows of the newest builds
    where vi.built_through_load_id > (select base_load_id from refresh_base)

),

rebuilt_line_visits as (

    select distinct
        'line' as change_kind,
        ln.fixmedins_code,
        ln.mdtrt_id,
        ln.psn_no,
        cast(null as date) as event_date,
        cast(null as text) as med_type,
        cast(null as text) as med_list_codg,
        cast(null as text) as list_type,
        cast(null as text) as rxno
    from {{ ref('int_fee_line_netting') }} as ln
    where ln.built_through_load_id > (select base_load_id from refresh_base)

),

deletions as (

    select
        case when de.model_name = 'int_visits' then 'deleted_visit' else 'deleted_line' end as change_kind,
        de.fixmedins_code,
        de.mdtrt_id,
        de.psn_no,
        de.event_date,
        de.med_type,
        de.med_list_codg,
        de.list_type,
        de.rxno
    from {{ source('meta', 'intermediate_deletions') }} as de
    where de.deleted_by_load_id > (select base_load_id from refresh_base)

),

final as (

    select * from rebuilt_visits
    union all
    select * from rebuilt_line_visits
    union all
    select * from deletions

)

select * from final
