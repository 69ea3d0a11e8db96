{{ config(indexes=[{'columns': ['stat_month', 'insutype'], 'unique': true}]) }}

-- 险种月度指标 monthly indicators per insurance type (insutype of the visit).
{{ marts_monthly_slice('insutype', ['insutype']) }}
