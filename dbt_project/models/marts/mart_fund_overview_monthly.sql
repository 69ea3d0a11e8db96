{{ config(indexes=[{'columns': ['stat_month'], 'unique': true}]) }}

-- 基金运行总览 city-wide monthly KPIs with MoM/YoY (one row per month).
{{ marts_monthly_slice('city', []) }}
