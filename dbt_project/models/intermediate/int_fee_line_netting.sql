{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ refresh_keys_prehook('int_fee_line_refresh', ['his_feedetail', 'pharmacy_sales'], fee_lines_touched_keys(), ['fixmedins_code', 'mdtrt_id', 'psn_no', 'fee_date', 'med_type', 'med_list_codg', 'list_type', 'rxno']) }}",
    indexes=[
        {'columns': ['business_date']},
        {'columns': ['fixmedins_code', 'mdtrt_id', 'built_through_load_id']},
        {'columns': ['dependency_dates'], 'type': 'gin'},
        {'columns': ['built_through_load_id']},
    ],
    post_hook=[
        "{{ partial_index(['fixmedins_code', 'rxno'], \"list_type = '102'\") }}",
        "{{ partial_index(['psn_no', 'fee_date'], \"list_type = '101' and prd_days is not null\") }}",
        "{{ partial_index(['psn_no', '((fee_date + prd_days))'], \"list_type = '101' and prd_days is not null\") }}",
        "{{ drop_partial_index(['psn_no']) }}",
    ]
) }}

{#- Every original fee line with its refunds netted, zero-quantity lines
    included (int_fee_lines hides them); incremental by business_date, and by
    key for the earlier lines that refunds delivered later reverse. -#}

with his_lines as (

    select
        'his' as line_source,
        *
    from {{ ref('stg_his_feedetail') }}
    where true {{ refresh_keys_filter('int_fee_line_refresh') }}

),

pharmacy_lines as (

    select
        'pharmacy' as line_source,
        *
    from {{ ref('stg_pharmacy_sales') }}
    where true {{ refresh_keys_filter('int_fee_line_refresh') }}

),

originals as (

    select * from his_lines
    where not is_refund
    union all
    select * from pharmacy_lines
    where not is_refund

),

-- refund lines are found wherever they were delivered; only a refund in the
-- original's folder or a later one counts (a refund never predates its line)
refunds as (

    select
        'his' as line_source,
        business_date,
        fixmedins_code,
        mdtrt_id,
        init_feedetl_sn,
        cnt,
        amount
    from {{ ref('stg_his_feedetail') }}
    where is_refund {{ refresh_keys_lower_bound('int_fee_line_refresh') }}
    union all
    select
        'pharmacy' as line_source,
        business_date,
        fixmedins_code,
        mdtrt_id,
        init_feedetl_sn,
        cnt,
        amount
    from {{ ref('stg_pharmacy_sales') }}
    where is_refund {{ refresh_keys_lower_bound('int_fee_line_refresh') }}

),

refund_totals as (

    select
        originals.line_source,
        originals.fixmedins_code,
        originals.mdtrt_id,
        originals.feedetl_sn,
        -- refund lines carry negative quantities and amounts; abs() also
        -- accepts a source that sends them positive
        sum(abs(refunds.cnt)) as refunded_cnt,
        sum(abs(refunds.amount)) as refunded_amount,
        count(*) as refund_line_count,
        array_agg(distinct refunds.business_date order by refunds.business_date) as refund_dates
    from originals
    inner join refunds
        on
            originals.line_source = refunds.line_source
            and originals.fixmedins_code = refunds.fixmedins_code
            and originals.mdtrt_id = refunds.mdtrt_id
            and originals.feedetl_sn = refunds.init_feedetl_sn
            and originals.business_date <= refunds.business_date
    group by 1, 2, 3, 4

),

final as (

    select
        cast(originals.line_source as text) as line_source,
        originals.business_date,
        originals.fixmedins_code,
        originals.mdtrt_id,
        originals.feedetl_sn,
        originals.psn_no,
        originals.med_type,
        originals.fee_time,
        originals.fee_date,
        originals.med_list_codg,
        originals.medins_list_codg,
        originals.list_type,
        cast(originals.cnt - coalesce(refund_totals.refunded_cnt, 0) as numeric(16, 4)) as cnt,
        originals.pric,
        cast(originals.amount - coalesce(refund_totals.refunded_amount, 0) as numeric(16, 2)) as amount,
        originals.dept_codg,
        originals.prac_codg,
        originals.rxno,
        originals.prd_days,
        originals.hosp_appr_flag,
        originals.cnt as original_cnt,
        originals.amount as original_amount,
        cast(coalesce(refund_totals.refunded_cnt, 0) as numeric(16, 4)) as refunded_cnt,
        cast(coalesce(refund_totals.refunded_amount, 0) as numeric(16, 2)) as refunded_amount,
        cast(coalesce(refund_totals.refund_line_count, 0) as integer) as refund_line_count,
        originals.cnt - coalesce(refund_totals.refunded_cnt, 0) <= 0 as is_fully_refunded,
        originals.source_file,
        originals.source_line,
        originals.load_id,
        -- the folder dates this row was computed from (own + refunds'):
        -- a change to any of them refreshes the row's business_date
        array_prepend(originals.business_date, coalesce(refund_totals.refund_dates, cast('{}' as date[])))
            as dependency_dates,
        cast({{ current_load_watermark() }} as bigint) as built_through_load_id
    from originals
    left join refund_totals
        on
            originals.line_source = refund_totals.line_source
            and originals.fixmedins_code = refund_totals.fixmedins_code
            and originals.mdtrt_id = refund_totals.mdtrt_id
            and originals.feedetl_sn = refund_totals.feedetl_sn

)

select * from final
{% if is_incremental() -%}
    -- appended in (fixmedins_code, mdtrt_id) order: the index on that key, far
    -- larger than shared_buffers, then takes the day page by page, not at random
    order by fixmedins_code, mdtrt_id  -- noqa: AM06
{%- endif %}
