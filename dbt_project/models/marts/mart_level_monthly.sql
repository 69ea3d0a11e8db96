{{ config(indexes=[{'columns': ['stat_month', 'hosp_lv'], 'unique': true}]) }}

-- 机构等级月度指标 monthly indicators per institution level (hosp_lv).
{{ marts_monthly_slice('level', ['hosp_lv']) }}
