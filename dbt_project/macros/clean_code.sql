{#- Codes compare after trimming and upper-casing (audit-rules.md, "Codes");
    an empty string is NULL (extracts.md). -#}
{% macro clean_code(column) -%}
    nullif(upper(trim({{ column }})), '')
{%- endmacro %}

{#- Free text (names): trimmed, empty = NULL, case kept. -#}
{% macro clean_text(column) -%}
    nullif(trim({{ column }}), '')
{%- endmacro %}
