{{ config(materialized='table') }}

{#- One row: what the incremental audit rules refresh in this build
    (docs/dbt.md, "Incremental rules"). base_load_id is the watermark of the
    previous build of this model, through_load_id the ledger's newest load. A
    rule whose last build went through base_load_id applies the changes since
    (int_rule_changes, int_rule_fee_lines); any other rule, and every rule when
    is_full, recomputes everything. A reference snapshot can change verdicts
    of any past date (catalogue versions, registrations, death dates) and a
    rebuilt intermediate model gives no row-level changes: both mean full. -#}
{%- set previous = rule_previous_relation() %}

with ledger as (

    select coalesce(max(load_id), 0) as through_load_id
    from {{ source('meta', 'load_log') }}

),

previous_build as (

    {% if previous is not none -%}
        select max(through_load_id) as base_load_id from {{ previous }}
    {%- else -%}
        select cast(null as bigint) as base_load_id
    {%- endif %}

),

intermediate_rebuilt as (

    -- a full refresh stamps every row with its watermark: the oldest row is newer than the base
    select
        (select min(built_through_load_id) from {{ ref('int_fee_line_netting') }}) as oldest_line_watermark,
        (select min(built_through_load_id) from {{ ref('int_visits') }}) as oldest_visit_watermark

),

reasons as (

    select
        pb.base_load_id,
        le.through_load_id,
        case
            when pb.base_load_id is null then 'first build'
            when le.through_load_id < pb.base_load_id then 'load ledger reset'
            when exists (
                select 1
                from {{ source('meta', 'load_log') }} as ll
                where ll.section = 'reference' and ll.load_id > pb.base_load_id
            ) then 'reference snapshot loaded'
            when ir.oldest_line_watermark > pb.base_load_id or ir.oldest_visit_watermark > pb.base_load_id
                then 'intermediate models rebuilt'
        end as full_reason
    from previous_build as pb
    cross join ledger as le
    cross join intermediate_rebuilt as ir

),

final as (

    select
        cast(base_load_id as bigint) as base_load_id,
        cast(through_load_id as bigint) as through_load_id,
        full_reason is not null as is_full,
        cast(full_reason as text) as full_reason,
        cast(now() as timestamptz) as built_at
    from reasons

)

select * from final
