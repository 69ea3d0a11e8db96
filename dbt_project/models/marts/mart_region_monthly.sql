{{ config(indexes=[{'columns': ['stat_month', 'admdvs'], 'unique': true}]) }}

-- 区划月度指标 monthly indicators per region (admdvs of the institution).
{{ marts_monthly_slice('region', ['admdvs']) }}
