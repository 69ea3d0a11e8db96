{{ config(indexes=[{'columns': ['stat_month', 'fixmedins_code'], 'unique': true}, {'columns': ['fixmedins_code']}]) }}

-- 机构月度指标 monthly indicators per institution (fixmedins_code).
{{ marts_monthly_slice('institution', ['fixmedins_code', 'fixmedins_type', 'hosp_lv', 'admdvs'], institution_name=true) }}
