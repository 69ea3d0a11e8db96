{{ config(indexes=[{'columns': ['stat_month', 'fixmedins_code', 'prac_codg'], 'unique': true}, {'columns': ['prac_codg']}]) }}

-- 医师月度指标 monthly indicators per physician (attending/billing prac_codg) at an institution.
{{ marts_monthly_slice('physician', ['fixmedins_code', 'prac_codg', 'fixmedins_type', 'hosp_lv', 'admdvs'], institution_name=true) }}
