{#- Use the configured schema name as is (stg, catalogue, rules, marts...),
    not dbt's default <target>_<schema>: other tools (Superset, exports,
    database roles) address these schemas by name. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
