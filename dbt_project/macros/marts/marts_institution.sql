{#- Institution attributes of a fact row as of its statistics date, shared by
    fct_visits and fct_violations_enriched: the dim_institution version valid
    on that date; an institution that has left the catalogue (or a date before
    its first snapshot) keeps its last known attributes. -#}

{#- Body of the `institutions` CTE: every version, version_desc = 1 the latest. -#}
{% macro marts_institution_versions() -%}
    select
        fixmedins_code,
        fixmedins_name,
        fixmedins_type,
        hosp_lv,
        admdvs,
        valid_from,
        valid_to,
        row_number() over (partition by fixmedins_code order by valid_from desc) as version_desc
    from {{ ref('dim_institution') }}
{%- endmacro %}

{#- The two joins of the fact CTE `alias` on its date d: i = version as of d,
    il = latest version. -#}
{% macro marts_join_institution(alias, d, institutions='institutions') -%}
    left join {{ institutions }} as i
        on
            {{ alias }}.fixmedins_code = i.fixmedins_code
            and {{ valid_as_of('i', d) }}
    left join {{ institutions }} as il
        on {{ alias }}.fixmedins_code = il.fixmedins_code and il.version_desc = 1
{%- endmacro %}

{#- The select-list entries of the joined attributes, in the order given. -#}
{% macro marts_institution_attributes(columns) -%}
    {%- for column in columns %}
        coalesce(i.{{ column }}, il.{{ column }}) as {{ column }}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}
