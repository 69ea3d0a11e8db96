{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ refresh_dates_prehook('int_department_refresh_dates', ['his_mdtrt', 'his_feedetail'], no_touched_dates()) }}",
    indexes=[
        {'columns': ['fixmedins_code', 'dept_codg', 'business_date']},
        {'columns': ['business_date']},
        {'columns': ['dependency_dates'], 'type': 'gin'},
        {'columns': ['built_through_load_id']},
    ]
) }}

{#- The name each department was delivered under on each business date (the
    most frequent one of that folder's his_mdtrt and his_feedetail rows), for
    dim_department. A date's names depend on that folder only, so the model
    is incremental by business_date: a build reads the changed folders, not
    the whole history (bench/bench_rules.py measured the full scan growing
    with every day). -#}

with observed as (

    select
        fixmedins_code,
        dept_codg,
        dept_name,
        business_date
    from {{ ref('stg_his_mdtrt') }}
    where dept_codg is not null {{ refresh_dates_filter('int_department_refresh_dates') }}
    union all
    select
        fixmedins_code,
        dept_codg,
        dept_name,
        business_date
    from {{ ref('stg_his_feedetail') }}
    where dept_codg is not null {{ refresh_dates_filter('int_department_refresh_dates') }}

),

final as (

    select
        fixmedins_code,
        dept_codg,
        business_date,
        mode() within group (order by dept_name) as dept_name,
        array[business_date] as dependency_dates,
        cast({{ current_load_watermark() }} as bigint) as built_through_load_id
    from observed
    group by fixmedins_code, dept_codg, business_date

)

select * from final
