{{ config(indexes=[{'columns': ['stat_month', 'dise_category'], 'unique': true}]) }}

-- 病种月度指标 monthly indicators per 3-character ICD-10 category of the main diagnosis.
{{ marts_monthly_slice('disease', ['dise_category']) }}
