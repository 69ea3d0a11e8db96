{#- Indexes for the Superset charts (bench/bench_dashboards.py, docs/benchmarks.md).

    The violations and rankings charts aggregate a year of rows; a covering
    index (every column a chart reads, the rest as INCLUDE) lets PostgreSQL
    answer them with an index-only scan of a narrow index instead of a scan of
    the wide table (evidence, descriptions). dbt's `indexes` config has no
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
