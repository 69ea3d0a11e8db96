{#- Indexes for the Superset charts (bench/bench_dashboards.py, docs/benchmarks.md).

    The rankings charts aggregate a year of rows of one dimension; a covering
    index led by (dimension, scope_type) with every other column a chart reads
    as INCLUDE lets PostgreSQL read only that dimension's rows, from the index
    alone (index-only scan), instead of the whole table. dbt's `indexes` config has no
    INCLUDE, hence a post-hook; the table is new on every build, so the index
    is too. Unnamed on purpose: during the post-hook the previous build's table
    (renamed to a backup, dropped after commit) still holds an index of any
    fixed name, so PostgreSQL picks a free one. -#}
{% macro dashboard_covering_index(key_columns, include_columns) -%}
    create index on {{ this }} ({{ key_columns | join(', ') }})
    include ({{ include_columns | join(', ') }})
{%- endmacro %}

{#- Index-only scans need the visibility map of the new table: VACUUM sets it
    (and ANALYZE the statistics) right after the build instead of whenever
    autovacuum comes by. VACUUM cannot run in a transaction: the hook is
    configured with transaction: false. -#}
{% macro dashboard_vacuum() -%}
    vacuum (analyze) {{ this }}
{%- endmacro %}
