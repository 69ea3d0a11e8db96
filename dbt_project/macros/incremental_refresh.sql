-- noqa: disable=LT02
-- (Jinja-only macros: sqlfluff cannot judge indentation inside the template logic.)
{#- Incremental models by business date (docs/dbt.md, "Incremental strategy").

    The dates a load touched since the model last ran come from the load
    ledger (meta.load_log rows with a load_id above the model's watermark, the
    highest built_through_load_id it holds). Those dates are refreshed whole:
    every row of them is deleted and inserted recomputed.

    int_department_daily_names depends on its own folder only and uses the
    date macros alone. int_fee_line_netting and int_visits also change rows of
    earlier dates: a refund or a settlement reversal delivered on day D changes
    a line or visit of day D-k. Those rows are refreshed by key (business_date,
    fixmedins_code, mdtrt_id), not by date: a refund delivered today used to
    rewrite its original's whole date, ~300k rows of earlier dates on an
    ordinary next day at a fifth of city scale for a few hundred refunds
    (bench/bench_layers.py). Each row remembers the folder dates that
    contributed to it (dependency_dates), so a corrected re-delivery that drops
    a refund still finds the line it reduced.

    The dates and keys are materialised in temporary tables by a pre-hook (it
    must read the model's old rows before they are deleted) and the model's SQL
    filters on them; the strategy is append. -#}

{#- The ledger dates of the model's kinds above its watermark. -#}
{% macro changed_dates_sql(kinds) %}
    select distinct load_log.business_date
    from {{ source('meta', 'load_log') }} as load_log
    where
        -- a scalar subquery: evaluated once, through the watermark index
        load_log.load_id > (select coalesce(max(built_through_load_id), 0) from {{ this }})
        and load_log.section = 'daily'
        and load_log.kind in ({% for kind in kinds %}'{{ kind }}'{% if not loop.last %}, {% endif %}{% endfor %})
{% endmacro %}

{% macro refresh_dates_prehook(temp_table, kinds, touched_dates_sql) %}
    {%- if is_incremental() -%}
        -- JIT compiles each statement for longer than a small delta takes to run
        set local jit = off;
        drop table if exists {{ temp_table }};
        create temporary table {{ temp_table }} on commit drop as
        with changed_dates as materialized (
            {{ changed_dates_sql(kinds) }}
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
        and {{ business_date_in(column, 'select business_date from ' ~ temp_table) }}
    {%- endif -%}
{%- endmacro %}

{#- The watermark written on every row of a run: the newest ledger entry the run saw. -#}
{% macro current_load_watermark() -%}
    (select coalesce(max(load_id), 0) from {{ source('meta', 'load_log') }})
{%- endmacro %}

{#- For models whose rows depend on their own folder only: no earlier dates. -#}
{% macro no_touched_dates() %}
    select cast(null as date) as business_date where false
{% endmacro %}

{#- Refresh by date and key. `<prefix>_dates`: the changed folder dates,
    refreshed whole. `<prefix>_keys`: (business_date, fixmedins_code, mdtrt_id)
    of every model row whose result those folders may change, whatever its
    date: rows that depended on a changed folder (dependency_dates: removed
    effects) and the originals that rows now in a changed folder point to
    (touched_keys_sql: new effects). Those rows are deleted and recomputed. -#}
{% macro refresh_keys_prehook(prefix, kinds, touched_keys_sql, deletion_columns) %}
    {%- if is_incremental() -%}
        -- JIT compiles each statement for longer than a small delta takes to run
        set local jit = off;
        drop table if exists {{ prefix }}_dates;
        create temporary table {{ prefix }}_dates on commit drop as
        {{ changed_dates_sql(kinds) }};
        analyze {{ prefix }}_dates;
        drop table if exists {{ prefix }}_keys;
        create temporary table {{ prefix }}_keys on commit drop as
        with changed_dates as (
            select business_date from {{ prefix }}_dates
        ),
        old_touched as (
            -- through the GIN index on dependency_dates
            select
                business_date,
                fixmedins_code,
                mdtrt_id
            from {{ this }}
            where dependency_dates && (select coalesce(array_agg(business_date), '{}') from changed_dates)
        ),
        new_touched as (
            {{ touched_keys_sql }}
        )
        select business_date, fixmedins_code, mdtrt_id from old_touched
        union
        select business_date, fixmedins_code, mdtrt_id from new_touched;
        analyze {{ prefix }}_keys;
        with deleted as (
            delete from {{ this }} as model
            where model.business_date = any(array(select business_date from {{ prefix }}_dates))
            returning {{ deleted_columns(deletion_columns) }}
        )
        {{ log_deletions('deleted') }};
        -- a handful of keys: index probes on (fixmedins_code, mdtrt_id)
        with deleted as (
            delete from {{ this }} as model
            using {{ prefix }}_keys as refreshed
            where
                model.fixmedins_code = refreshed.fixmedins_code
                and model.mdtrt_id = refreshed.mdtrt_id
                and model.business_date = refreshed.business_date
                and refreshed.business_date <> all(array(select business_date from {{ prefix }}_dates))
            returning {{ deleted_columns(deletion_columns) }}
        )
        {{ log_deletions('deleted') }};
    {%- endif -%}
{% endmacro %}

{#- What an intermediate model deleted, for the incremental rules: a row
    deleted and not re-created (a corrected re-delivery dropped it) must still
    refresh the suspects it fed (macros/rules/rule_incremental.sql). The
    columns, in order: fixmedins_code, mdtrt_id, psn_no, event_date, med_type,
    med_list_codg, list_type, rxno. -#}
{% macro deleted_columns(columns) -%}
    {%- for column in columns -%}
        {{ column if '::' in column else 'model.' ~ column }}{% if not loop.last %}, {% endif %}
    {%- endfor -%}
{%- endmacro %}

{% macro log_deletions(deleted) -%}
    insert into {{ source('meta', 'intermediate_deletions') }} (
        model_name, deleted_by_load_id, fixmedins_code, mdtrt_id, psn_no, event_date,
        med_type, med_list_codg, list_type, rxno
    )
    select
        '{{ this.name }}',
        {{ current_load_watermark() }},
        *
    from {{ deleted }}
{%- endmacro %}

{#- The filter on a model's driving rows (one row per key and folder): the
    changed dates whole, the refreshed keys of the other dates. -#}
{% macro refresh_keys_filter(prefix, alias=none) -%}
    {%- if is_incremental() -%}
        {%- set p = alias ~ '.' if alias else '' %}
        and {{ business_date_in(p ~ 'business_date',
                                'select business_date from ' ~ prefix ~ '_dates union select business_date from ' ~ prefix ~ '_keys') }}
        and (
            {{ p }}business_date = any(array(select business_date from {{ prefix }}_dates))
            or ({{ p }}business_date, {{ p }}fixmedins_code, {{ p }}mdtrt_id) in (
                select business_date, fixmedins_code, mdtrt_id from {{ prefix }}_keys
            )
        )
    {%- endif -%}
{%- endmacro %}

{#- The same for rows whose business_date is derived from several folders (a
    pharmacy sale's: its earliest line's): a refreshed key is recomputed
    wherever it now lands (a re-delivery that drops its first folder's lines
    moves the sale to a later date). That is also why the keys keep the rows
    of the changed dates. -#}
{% macro refresh_keys_moving_filter(prefix, alias=none) -%}
    {%- if is_incremental() -%}
        {%- set p = alias ~ '.' if alias else '' %}
        and (
            {{ p }}business_date = any(array(select business_date from {{ prefix }}_dates))
            or ({{ p }}fixmedins_code, {{ p }}mdtrt_id) in (select fixmedins_code, mdtrt_id from {{ prefix }}_keys)
        )
    {%- endif -%}
{%- endmacro %}

{#- Rows delivered on or after the earliest refreshed date (refunds and
    reversals never predate what they reverse): prunes older partitions. -#}
{% macro refresh_keys_lower_bound(prefix, column='business_date') -%}
    {%- if is_incremental() -%}
        and {{ column }} >= (
            select min(business_date) from (
                select business_date from {{ prefix }}_dates
                union all
                select business_date from {{ prefix }}_keys
            ) as refreshed
        )
    {%- endif -%}
{%- endmacro %}

{#- The changed folders through business_date_in, not `in (select ...)`: a
    semi-join scanned and hashed every history partition (bench_rules: a no-op
    build of int_fee_line_netting took 153 s on 30 days at a fifth of city
    scale). -#}

{#- Fee lines: the originals that refunds delivered in a changed folder
    reverse. Originals of earlier folders are already in the model (looked up
    through its (fixmedins_code, mdtrt_id) index). -#}
{% macro fee_lines_touched_keys() %}
    {%- for line_source in ['his_feedetail', 'pharmacy_sales'] %}
    select
        original.business_date,
        original.fixmedins_code,
        original.mdtrt_id
    from {{ ref('stg_' ~ line_source) }} as refund
    inner join {{ this }} as original
        on
            original.line_source = '{{ 'his' if line_source == 'his_feedetail' else 'pharmacy' }}'
            and refund.fixmedins_code = original.fixmedins_code
            and refund.mdtrt_id = original.mdtrt_id
            and refund.init_feedetl_sn = original.feedetl_sn
    where
        refund.is_refund
        and {{ business_date_in('refund.business_date', 'select business_date from changed_dates') }}
    {% if not loop.last %}union{% endif %}
    {%- endfor %}
{% endmacro %}

{#- Visits (already in the model) whose settlements, diagnoses or pharmacy
    lines arrived in a changed folder. -#}
{% macro visits_touched_keys() %}
    with changed_mdtrt as (
        select fixmedins_code, mdtrt_id from {{ ref('stg_setl') }}
        where {{ business_date_in('business_date', 'select business_date from changed_dates') }}
        union
        select fixmedins_code, mdtrt_id from {{ ref('stg_pharmacy_sales') }}
        where {{ business_date_in('business_date', 'select business_date from changed_dates') }}
    ),
    changed_diag as (
        select distinct mdtrt_id from {{ ref('stg_his_diag') }}
        where {{ business_date_in('business_date', 'select business_date from changed_dates') }}
    )
    select
        visit.business_date,
        visit.fixmedins_code,
        visit.mdtrt_id
    from {{ this }} as visit
    inner join changed_mdtrt
        on visit.fixmedins_code = changed_mdtrt.fixmedins_code and visit.mdtrt_id = changed_mdtrt.mdtrt_id
    union
    select
        visit.business_date,
        visit.fixmedins_code,
        visit.mdtrt_id
    from {{ this }} as visit
    inner join changed_diag on visit.mdtrt_id = changed_diag.mdtrt_id
{% endmacro %}
