{#- Post-hook of the catalogue, intermediate and rules models (dbt_project.yml).

    A table dbt has just created or appended to has no (or stale) planner
    statistics until autovacuum gets to it, and the next model reads it within
    seconds: with a 1,000-fold underestimate of int_fee_line_netting PostgreSQL
    probed indexes 2.8 million times per rule instead of hashing (R16 took 67 s
    on one city day instead of seconds; docs/benchmarks.md). ANALYZE samples a
    fixed number of rows, so it costs about the same on 3 or 90 million.

    Skipped when the model's statements wrote nothing in this transaction
    (pg_stat_xact_user_tables: the hooks run inside it): an incremental model
    or snapshot dim with nothing to refresh keeps valid statistics, and the
    sample of a 3-million-row dim_person cost a second or two per no-op. -#}
{% macro analyze_table() -%}
    {%- if model.config.materialized in ('table', 'incremental') -%}
        do $$
        begin
            if exists (
                select 1 from pg_stat_xact_user_tables
                where
                    relid = to_regclass('{{ this.schema }}.{{ this.identifier }}')
                    and n_tup_ins + n_tup_upd + n_tup_del > 0
            ) then
                analyze {{ this }};
            end if;
        end
        $$
    {%- endif -%}
{%- endmacro %}

{#- A partial index (dbt's `indexes` config has no WHERE): the incremental
    rules' probes for herbal prescriptions (R10) and a person's dispensings
    (R05) touch a small part of int_fee_line_netting. Created when the table
    has none on those columns with that predicate; the name carries a
    timestamp hash, as dbt's own index names do, because during a full
    refresh the old table (and its index names) still exists. -#}
{% macro partial_index(columns, where) -%}
    do $$
    begin
        if not exists (
            select 1
            from pg_index as ix
            where {{ partial_index_on(columns) }}
        ) then
            execute format(
                'create index %I on {{ this }} ({{ columns | join(', ') }}) where {{ where | replace("'", "''") }}',
                'partial_' || md5('{{ columns | join(',') }}' || clock_timestamp()::text)
            );
        end if;
    end
    $$
{%- endmacro %}

{#- The pg_index row `ix` is a partial index of this model on exactly these
    columns (any predicate). -#}
{% macro partial_index_on(columns) -%}
    ix.indrelid = to_regclass('{{ this.schema }}.{{ this.identifier }}')
    and ix.indpred is not null
    and pg_get_indexdef(ix.indexrelid) like '%({{ columns | join(', ') }}) WHERE%'
{%- endmacro %}

{#- Drop a partial index an earlier version of the model declared (matched
    as partial_index matches it): an index no plan reads still costs every
    append its maintenance, and dbt drops only what it created in a full
    refresh. -#}
{% macro drop_partial_index(columns) -%}
    do $$
    declare
        stale record;
    begin
        for stale in
            select ix.indexrelid::regclass as name
            from pg_index as ix
            where {{ partial_index_on(columns) }}
        loop
            execute format('drop index %s', stale.name);
        end loop;
    end
    $$
{%- endmacro %}
