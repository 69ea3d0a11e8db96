{{ config(indexes=[{'columns': ['stat_month', 'fixmedins_code', 'dept_codg'], 'unique': true}, {'columns': ['fixmedins_code']}]) }}

-- 科室月度指标 monthly indicators per department of an institution (fixmedins_code + dept_codg).
{{ marts_monthly_slice('department', ['fixmedins_code', 'dept_codg', 'fixmedins_type', 'hosp_lv', 'admdvs'], institution_name=true) }}
