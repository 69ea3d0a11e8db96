-- noqa: disable=LT02
-- (Jinja-only macros: sqlfluff cannot judge indentation inside the template logic.)
{#- Tests on a growing history (docs/dbt.md): a data test whose `where`
    config is `new_rows:<mode>` checks only the rows a build adds, so its
    cost follows the day's volume rather than the history. The rows already
    there were checked by the build that added them (and by Great
    Expectations when they were loaded).
      new_rows:latest_build       rows with the model's newest built_through_load_id
      new_rows:since:<model>      staging rows with a load_id above the watermark of
                                  intermediate.<model> (the rows its next build
                                  reads): every row before that model's first build.
                                  The new loads' folder dates come first, through
                                  business_date_in (macros/business_date_in.sql), so
                                  the other daily partitions are pruned when it starts.
    Unknown modes fail at compile time. -#}
{% macro new_rows_predicate(relation, mode) -%}
    {%- if mode == 'latest_build' -%}
        built_through_load_id = (select max(built_through_load_id) from {{ relation }})
    {%- elif mode.startswith('since:') -%}
        {%- set reader = mode[6:] -%}
        {%- set reader_rel = adapter.get_relation(database=target.database, schema='intermediate', identifier=reader) if execute else none -%}
        {%- set load_log = adapter.get_relation(database=target.database, schema='meta', identifier='load_log') if execute else none -%}
        {%- if reader_rel is none or load_log is none -%}
            true
        {%- else -%}
            {%- set watermark = '(select coalesce(max(built_through_load_id), 0) from ' ~ reader_rel ~ ')' -%}
            {{ business_date_in('business_date', 'select ll.business_date from ' ~ load_log ~ ' as ll where ll.load_id > ' ~ watermark) }}
            and load_id > {{ watermark }}
        {%- endif -%}
    {%- else -%}
        {{ exceptions.raise_compiler_error("new_rows: unknown mode '" ~ mode ~ "' (latest_build or since:<model>)") }}
    {%- endif -%}
{%- endmacro %}

{#- dbt's `where` config for data tests, with the new_rows: modes above. -#}
{% macro postgres__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where and where.startswith('new_rows:') -%}
        {%- set where = new_rows_predicate(relation, where[9:]) -%}
    {%- endif -%}
    {%- if where -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
