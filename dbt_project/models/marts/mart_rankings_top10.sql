{{ config(materialized='view') }}

-- 排行前十 top-10 lists of mart_rankings (ties at 10th place included).

with

rankings as (
    select * from {{ ref('mart_rankings') }}
),

final as (
    select * from rankings
    where rank_no <= 10
)

select * from final
