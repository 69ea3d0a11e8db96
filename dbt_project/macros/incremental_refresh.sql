{#- Incremental models by business date (docs/dbt.md, "Incremental strategy").

    A run refreshes whole business dates: it deletes every row of the dates a
    load touched since the model last ran and inserts them recomputed. The
    dates come from the load ledger (meta.load_log rows with a load_id above
    the model's watermark, the highest built_through_load_id it holds), plus
    the earlier dates whose rows those loads change: a refund or a settlement
    reversal delivered on day D changes a line or visit of day D-k. Each row
    remembers the folder dates that contributed to it (dependency_dates), so a
    corrected re-delivery that drops a refund still finds the line it reduced.

    The dates are materialised in a temporary table by a pre-hook (it must
    read the model's old rows before they are deleted) and the model's SQL
    filters on it; the strategy is append. -#}

{% macro refresh_dates_prehook(temp_table, kinds, touched_dates_sql) %}
    {%- if is_incremental() -%}
        drop table if exists {{ temp_table }};
        create temporary table {{ temp_table }} on commit drop as
        with changed_dates as materialized (
            select distinct load_log.business_date
            from {{ source('meta', 'load_log') }} as load_log
            where
                -- a scalar subquery: evaluated once, through the watermark index
                load_log.load_id > (select coalesce(max(built_through_load_id), 0) from {{ this }})
                and load_log.section = 'daily'
                and load_log.kind in ({% for kind in kinds %}'{{ kind }}'{% if not loop.last %}, {% endif %}{% endfor %})
        ),
        old_touched as (
            select distinct business_date
            from {{ this }}
            where dependency_dates && (select coalesce(array_agg(business_date), '{}') from changed_dates)
        ),
        new_touched as (
            {{ touched_dates_sql }}
        )
        select business_date from changed_dates
        union
        select business_date from old_touched
        union
        select business_date from new_touched;
        analyze {{ temp_table }};
        delete from {{ this }}
        where business_date in (select business_date from {{ temp_table }});
    {%- endif -%}
{% endmacro %}

{#- The filter the model's SQL applies to its driving rows. -#}
{% macro refresh_dates_filter(temp_table, column='business_date') -%}
    {%- if is_incremental() -%}
        -- = any(array(...)) is an init plan: PostgreSQL prunes the other partitions at run time
        and {{ column }} = any(array(select business_date from {{ temp_table }}))
    {%- endif -%}
{%- endmacro %}

{#- The watermark written on every row of a run: the newest ledger entry the run saw. -#}
{% macro current_load_watermark() -%}
    (select coalesce(max(load_id), 0) from {{ source('meta', 'load_log') }})
{%- endmacro %}

{#- `= any(array(select ...))` below, not `in (select ...)`: the array is an
    init plan, so PostgreSQL prunes the staging partitions at run time; a
    semi-join scanned every history partition (bench_rules: a no-op build of
    int_fee_line_netting took 153 s on 30 days at a fifth of city scale). -#}

{#- Fee lines: dates of the original lines that refunds delivered in a changed
    folder reverse. Originals of earlier folders are already in the model
    (looked up through its (fixmedins_code, mdtrt_id) index); those of changed
    folders are refreshed anyway. -#}
{% macro fee_lines_touched_dates() %}
    {%- for line_source in ['his_feedetail', 'pharmacy_sales'] %}
    select original.business_date
    from {{ ref('stg_' ~ line_source) }} as refund
    inner join {{ this }} as original
        on
            original.line_source = '{{ 'his' if line_source == 'his_feedetail' else 'pharmacy' }}'
            and refund.fixmedins_code = original.fixmedins_code
            and refund.mdtrt_id = original.mdtrt_id
            and refund.init_feedetl_sn = original.feedetl_sn
    where refund.is_refund and refund.business_date = any(array(select business_date from changed_dates))
    {% if not loop.last %}union{% endif %}
    {%- endfor %}
{% endmacro %}

{#- Visits: dates of the visits (already in the model) whose settlements,
    diagnoses or pharmacy lines arrived in a changed folder. -#}
{% macro visits_touched_dates() %}
    with changed_mdtrt as (
        select fixmedins_code, mdtrt_id from {{ ref('stg_setl') }}
        where business_date = any(array(select business_date from changed_dates))
        union
        select fixmedins_code, mdtrt_id from {{ ref('stg_pharmacy_sales') }}
        where business_date = any(array(select business_date from changed_dates))
    ),
    changed_diag as (
        select distinct mdtrt_id from {{ ref('stg_his_diag') }}
        where business_date = any(array(select business_date from changed_dates))
    )
    select visit.business_date
    from {{ this }} as visit
    inner join changed_mdtrt
        on visit.fixmedins_code = changed_mdtrt.fixmedins_code and visit.mdtrt_id = changed_mdtrt.mdtrt_id
    union
    select visit.business_date
    from {{ this }} as visit
    inner join changed_diag on visit.mdtrt_id = changed_diag.mdtrt_id
{% endmacro %}

{#- Rows delivered on or after the earliest refreshed date (refunds and
    reversals never predate what they reverse): prunes older partitions. -#}
{% macro refresh_dates_lower_bound(temp_table, column='business_date') -%}
    {%- if is_incremental() -%}
        and {{ column }} >= (select min(business_date) from {{ temp_table }})
    {%- endif -%}
{%- endmacro %}

{#- For models whose rows depend on their own folder only: no earlier dates. -#}
{% macro no_touched_dates() %}
    select cast(null as date) as business_date where false
{% endmacro %}
