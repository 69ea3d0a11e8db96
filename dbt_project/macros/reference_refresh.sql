{#- Snapshot dimensions, incremental by reference load (docs/dbt.md, "Catalogue refresh").

    A dimension's versions, valid_to, is_current and is_latest_version depend on
    every snapshot of its kind, so a new snapshot can change any row: the dim is
    then rebuilt whole. Reference loads are rare next to daily builds, though,
    and rebuilding on every build cost 137 s for dim_person alone (3 M persons
    per snapshot, bench/bench_layers.py). So every row carries
    built_through_load_id, the newest ledger entry the build saw (the same on
    all rows, since the table is only ever written whole), and a build that
    finds no reference load of the dim's kinds above it writes nothing.

    The pre-hook empties the table when such a load exists (TRUNCATE: a delete
    of every row would leave the table twice its size until vacuum); the
    model's SQL ends with reference_refresh_filter(), true then, false
    otherwise, so a no-op build never evaluates the history. -#}

{#- The watermark: any row's (all are equal); NULL on an empty table, and on
    one built before the column existed: read through to_jsonb, so the query
    is valid either way and the filter treats both as stale. -#}
{% macro reference_watermark() -%}
    (select cast(to_jsonb(dim) ->> 'built_through_load_id' as bigint) from {{ this }} as dim limit 1)
{%- endmacro %}

{% macro reference_load_pending(kinds) -%}
    exists (
        select 1
        from {{ source('meta', 'load_log') }} as load_log
        where
            load_log.section = 'reference'
            and load_log.kind in ({% for kind in kinds %}'{{ kind }}'{% if not loop.last %}, {% endif %}{% endfor %})
            and load_log.load_id > coalesce({{ reference_watermark() }}, 0)
    )
{%- endmacro %}

{% macro reference_refresh_prehook(kinds) %}
    {%- if is_incremental() -%}
        -- JIT compiles the history query for seconds even when the filter below is false
        set local jit = off;
        do $$
        begin
            if {{ reference_load_pending(kinds) }} then
                truncate table {{ this }};
            end if;
        end
        $$;
    {%- endif -%}
{% endmacro %}

{#- The end of a snapshot dim's SQL: every version after the pre-hook emptied
    the table (nothing is above the watermark of an empty table but the
    pending load), none in a build without a new reference load. -#}
{% macro reference_refresh_filter(kinds) -%}
    {%- if is_incremental() %}
        where {{ reference_load_pending(kinds) }}
    {%- endif -%}
{%- endmacro %}
