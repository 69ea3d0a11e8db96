{#- Post-hook of the catalogue, intermediate and rules models (dbt_project.yml).

    A table dbt has just created or appended to has no (or stale) planner
    statistics until autovacuum gets to it, and the next model reads it within
    seconds: with a 1,000-fold underestimate of int_fee_line_netting PostgreSQL
    probed indexes 2.8 million times per rule instead of hashing (R16 took 67 s
    on one city day instead of seconds; docs/benchmarks.md). ANALYZE samples a
    fixed number of rows, so it costs about the same on 3 or 90 million. -#}
{% macro analyze_table() -%}
    {%- if model.config.materialized in ('table', 'incremental') -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}
