{#- `column` (a staging partition key) is one of the dates `dates_sql`
    selects (a column business_date). PostgreSQL prunes partitions at run time
    on a comparison with a scalar init plan, not on `= any(array(init plan))`
    (EXPLAIN ANALYZE on 31 daily partitions: every partition scanned, 5.6 s
    for a not_null where the day's alone takes 1.1 s). So the range of the
    dates comes first, as two scalar init plans, and prunes every partition
    outside it; the array keeps the filter exact (a re-delivered old folder
    widens the range, never the result). An empty set selects nothing. -#}
{#- one line: it lands inside other statements' WHERE clauses -#}
{% macro business_date_in(column, dates_sql) -%}
    {%- set dates = '(' ~ dates_sql ~ ') as dates' -%}
    {{ column }} >= (select min(dates.business_date) from {{ dates }}) and {{ column }} <= (select max(dates.business_date) from {{ dates }}) and {{ column }} = any(array({{ dates_sql }}))
{%- endmacro %}
