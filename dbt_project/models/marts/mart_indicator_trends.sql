{{ config(
    indexes=[
        {'columns': ['dimension', 'stat_month']},
        {'columns': ['dimension', 'member_key', 'stat_month'], 'unique': true},
    ]
) }}

-- Month-on-month (环比) and year-on-year (同比) growth of every indicator:
-- the same slice one calendar month / twelve months earlier, matched by date
-- (not by "the previous row"), so a gap month gives NULL, never a wrong base.

{%- set indicators = marts_indicators() %}

with

monthly as (
    select * from {{ ref('mart_indicator_monthly') }}
),

final as (
    select
        cur.*,
        {%- for i in indicators %}
            {{ marts_growth('cur.' ~ i.name, 'mom.' ~ i.name) }} as {{ i.name }}_mom,
            {{ marts_growth('cur.' ~ i.name, 'yoy.' ~ i.name) }} as {{ i.name }}_yoy{% if not loop.last %},{% endif %}
        {%- endfor %}
    from monthly as cur
    left join monthly as mom
        on
            cur.dimension = mom.dimension
            and cur.member_key = mom.member_key
            and mom.stat_month = cast(cur.stat_month - interval '1 month' as date)
    left join monthly as yoy
        on
            cur.dimension = yoy.dimension
            and cur.member_key = yoy.member_key
            and yoy.stat_month = cast(cur.stat_month - interval '1 year' as date)
)

select * from final
