{#- Adapter override (project-wide, additive): dbt-postgres reports array
    columns as the bare type name "ARRAY" (information_schema.data_type), so a
    dbt unit test whose mocked input has an array column (int_visits.diag_codes,
    dim_med_list.lmt_dise_prefixes) renders `cast(... as ARRAY)` and fails.
    Same query as dbt-postgres 1.11, with arrays spelled as their element
    type + [] (udt_name "_text" -> "text[]"). Everything else is unchanged. -#}
{% macro postgres__get_columns_in_relation(relation) -%}
    {% call statement('get_columns_in_relation', fetch_result=True) %}
        select
            column_name,
            case
                when data_type = 'ARRAY' then ltrim(udt_name, '_') || '[]'
                else data_type
            end as data_type,
            character_maximum_length,
            numeric_precision,
            numeric_scale
        from {{ relation.information_schema('columns') }}
        where
            table_name = '{{ relation.identifier }}'
            {% if relation.schema %}
                and table_schema = '{{ relation.schema }}'
            {% endif %}
        order by ordinal_position
    {% endcall %}
    {% set table = load_result('get_columns_in_relation').table %}
    {{ return(sql_convert_columns_in_relation(table)) }}
{%- endmacro %}
