{{ config(indexes=[{'columns': ['stat_month', 'psn_no'], 'unique': true}, {'columns': ['psn_no']}]) }}

-- 参保人月度指标 monthly indicators per insured person (psn_no; no names or certno).
{{ marts_monthly_slice('person', ['psn_no']) }}
