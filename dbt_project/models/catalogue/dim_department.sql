{{ config(indexes=[{'columns': ['fixmedins_code', 'dept_codg', 'valid_from']}]) }}

{#- No reference extract lists departments: they are derived from what the
    institutions deliver (his_mdtrt dept_codg/dept_name, fee lines'
    bilg_dept_codg/bilg_dept_name). A department's name on a business date is
    the most frequent one delivered that day; a new version starts on the
    first date its name differs from the previous delivered date. -#}

with daily_names as (

    -- one row per department and business date, kept incrementally
    select
        fixmedins_code,
        dept_codg,
        business_date,
        dept_name
    from {{ ref('int_department_daily_names') }}

),

flagged as (

    select
        *,
        case
            when
                lag(business_date) over by_dept is not null
                and coalesce(lag(dept_name) over by_dept, '') = coalesce(dept_name, '')
                then 0
            else 1
        end as starts_version
    from daily_names
    window by_dept as (partition by fixmedins_code, dept_codg order by business_date)

),

numbered as (

    select
        *,
        sum(starts_version) over (
            partition by fixmedins_code, dept_codg order by business_date rows unbounded preceding
        ) as version_no
    from flagged

),

versions as (

    select
        fixmedins_code,
        dept_codg,
        version_no,
        min(dept_name) as dept_name,
        min(business_date) as valid_from,
        max(business_date) as last_seen_date
    from numbered
    group by fixmedins_code, dept_codg, version_no

),

final as (

    select
        md5(fixmedins_code || '|' || dept_codg || '|' || cast(valid_from as text)) as department_sk,
        fixmedins_code,
        dept_codg,
        dept_name,
        cast(version_no as integer) as version_no,
        valid_from,
        lead(valid_from) over (partition by fixmedins_code, dept_codg order by valid_from) as valid_to,
        last_seen_date,
        lead(valid_from) over (partition by fixmedins_code, dept_codg order by valid_from) is null as is_current
    from versions

)

select * from final
