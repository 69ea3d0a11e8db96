{{ config(
    indexes=[
        {'columns': ['stat_month', 'fixmedins_code']},
    ]
) }}

-- 同级同类比较 each institution's fee per outpatient visit and per stay against
-- its peers (same month, hosp_lv and fixmedins_type): peer mean, population
-- standard deviation over the peers' values (the institution included) and
-- z-score. z is NULL when the group has fewer than 3 institutions or no spread.

{%- set min_peers = var('mart_min_peer_count', 3) %}
{%- set outlier_z = var('mart_outlier_z', 2) %}

with

visits as (
    select * from {{ ref('fct_visits') }}
    where hosp_lv is not null and fixmedins_type is not null
),

institution_values as (
    select
        stat_month,
        fixmedins_code,
        hosp_lv,
        fixmedins_type,
        max(admdvs) as admdvs,
        case when is_inpatient then 'fee_per_stay' else 'fee_per_visit' end as measure,
        count(*) as sample_size,
        avg(total_fee) as institution_value
    from visits
    group by stat_month, fixmedins_code, hosp_lv, fixmedins_type, is_inpatient
),

peers as (
    select
        *,
        count(*) over p as peer_count,
        avg(institution_value) over p as peer_mean,
        stddev_pop(institution_value) over p as peer_stddev
    from institution_values
    window p as (partition by stat_month, hosp_lv, fixmedins_type, measure)
),

final as (
    select
        stat_month,
        fixmedins_code,
        hosp_lv,
        fixmedins_type,
        admdvs,
        measure,
        sample_size,
        round(institution_value, 2) as institution_value,
        peer_count,
        round(peer_mean, 2) as peer_mean,
        round(peer_stddev, 2) as peer_stddev,
        case
            when peer_count >= {{ min_peers }} and peer_stddev > 0
                then round((institution_value - peer_mean) / peer_stddev, 4)
        end as z_score,
        round(institution_value / nullif(peer_mean, 0) - 1, 4) as deviation_ratio,
        coalesce(
            peer_count >= {{ min_peers }} and peer_stddev > 0
            and abs((institution_value - peer_mean) / peer_stddev) >= {{ outlier_z }},
            false
        ) as is_outlier
    from peers
)

select * from final
