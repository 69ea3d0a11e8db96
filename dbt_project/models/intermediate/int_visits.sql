{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ refresh_keys_prehook('int_visit_refresh', ['his_mdtrt', 'his_diag', 'pharmacy_sales', 'setl'], visits_touched_keys(), ['fixmedins_code', 'mdtrt_id', 'psn_no', 'visit_date', 'med_type', 'null::text', 'null::text', 'null::text']) }}",
    indexes=[
        {'columns': ['mdtrt_id']},
        {'columns': ['business_date']},
        {'columns': ['psn_no', 'visit_date']},
        {'columns': ['fixmedins_code', 'mdtrt_id']},
        {'columns': ['visit_date']},
        {'columns': ['dependency_dates'], 'type': 'gin'},
        {'columns': ['built_through_load_id']},
    ],
    post_hook="{{ partial_index(['fixmedins_code', 'mdtrt_id'], 'is_cancelled') }}"
) }}

{#- One row per visit: a his_mdtrt row, or a pharmacy sale (distinct
    pharmacy_sales mdtrt_id), with diagnoses and settlements net of
    reversals; incremental by business_date, and by key for the earlier
    visits that settlements, reversals, diagnoses or sale lines delivered
    later change. -#}

with his_visits as (

    select
        'his' as visit_source,
        business_date,
        fixmedins_code,
        mdtrt_id,
        psn_no,
        med_type,
        insutype,
        begin_time,
        end_time,
        cast(begin_time as date) as visit_date,
        case when med_type = '21' then cast(end_time as date) end as discharge_date,
        dept_codg,
        prac_codg,
        main_dise_codg
    from {{ ref('stg_his_mdtrt') }}
    where true {{ refresh_keys_filter('int_visit_refresh') }}

),

-- a pharmacy sale's lines normally sit in one folder; the sale belongs to
-- the earliest folder holding one of its original lines
refreshed_sales as (

    select distinct
        fixmedins_code,
        mdtrt_id
    from {{ ref('stg_pharmacy_sales') }}
    where not is_refund {{ refresh_dates_filter('int_visit_refresh_dates') }}
    {%- if is_incremental() %}
        -- the sales refreshed by key (their lines may sit in unchanged folders only)
        union
        select
            fixmedins_code,
            mdtrt_id
        from int_visit_refresh_keys
    {%- endif %}

),

sale_lines as (

    select
        sale.*,
        row_number() over (
            partition by sale.fixmedins_code, sale.mdtrt_id
            order by sale.fee_time, sale.feedetl_sn
        ) as line_no
    from {{ ref('stg_pharmacy_sales') }} as sale
    inner join refreshed_sales
        on sale.fixmedins_code = refreshed_sales.fixmedins_code and sale.mdtrt_id = refreshed_sales.mdtrt_id
    where not sale.is_refund

),

pharmacy_visits as (

    select
        'pharmacy' as visit_source,
        min(business_date) as business_date,
        fixmedins_code,
        mdtrt_id,
        min(psn_no) filter (where line_no = 1) as psn_no,
        min(med_type) filter (where line_no = 1) as med_type,
        cast(null as text) as insutype,
        min(fee_time) as begin_time,
        max(fee_time) as end_time,
        min(fee_date) as visit_date,
        cast(null as date) as discharge_date,
        min(dept_codg) filter (where line_no = 1) as dept_codg,
        min(prac_codg) filter (where line_no = 1) as prac_codg,
        cast(null as text) as main_dise_codg,
        array_agg(distinct business_date order by business_date) as line_dates
    from sale_lines
    group by fixmedins_code, mdtrt_id

),

visits as (

    select
        *,
        array[business_date] as line_dates
    from his_visits
    union all
    select * from pharmacy_visits
    where true {{ refresh_keys_moving_filter('int_visit_refresh') }}

),

diagnoses as (

    select
        diag.mdtrt_id,
        diag.diag_code,
        diag.diag_srt_no,
        diag.business_date
    from {{ ref('stg_his_diag') }} as diag
    inner join his_visits
        on diag.mdtrt_id = his_visits.mdtrt_id and diag.business_date >= his_visits.business_date
    where true {{ refresh_keys_lower_bound('int_visit_refresh', 'diag.business_date') }}

),

diagnosis_codes as (

    -- main diagnosis first, then every his_diag code in sequence order, each once
    select
        mdtrt_id,
        code,
        min(sort_no) as sort_no
    from (
        select
            mdtrt_id,
            main_dise_codg as code,
            -1 as sort_no
        from visits
        union all
        select
            mdtrt_id,
            diag_code,
            diag_srt_no
        from diagnoses
    ) as codes
    where code is not null
    group by mdtrt_id, code

),

diagnosis_lists as (

    select
        mdtrt_id,
        array_agg(code order by sort_no, code) as diag_codes
    from diagnosis_codes
    group by mdtrt_id

),

diagnosis_dates as (

    select
        mdtrt_id,
        array_agg(distinct business_date order by business_date) as diag_dates
    from diagnoses
    group by mdtrt_id

),

settlements as (

    select
        setl.fixmedins_code,
        setl.mdtrt_id,
        setl.setl_id,
        setl.setl_time,
        setl.insutype,
        setl.is_reversal,
        setl.init_setl_id,
        setl.fund_pay_sumamt,
        setl.medfee_sumamt,
        setl.business_date
    from {{ ref('stg_setl') }} as setl
    inner join visits
        on
            setl.fixmedins_code = visits.fixmedins_code
            and setl.mdtrt_id = visits.mdtrt_id
            -- settlements come with the visit or later (reversals): extracts.md
            and setl.business_date >= visits.business_date
    where true {{ refresh_keys_lower_bound('int_visit_refresh', 'setl.business_date') }}

),

reversed_ids as (

    select distinct init_setl_id as setl_id
    from settlements
    where is_reversal and init_setl_id is not null

),

settlement_status as (

    select
        originals.*,
        reversed_ids.setl_id is not null as is_reversed
    from settlements as originals
    left join reversed_ids on originals.setl_id = reversed_ids.setl_id
    where not originals.is_reversal

),

settlement_totals as (

    select
        settlements.fixmedins_code,
        settlements.mdtrt_id,
        -- reversal rows carry the reversed amounts negated: the plain sum is net
        sum(settlements.fund_pay_sumamt) as fund_amount,
        sum(settlements.medfee_sumamt) as medfee_amount,
        count(*) filter (where not settlements.is_reversal) as settlement_count,
        array_agg(distinct settlements.business_date order by settlements.business_date) as setl_dates
    from settlements
    group by settlements.fixmedins_code, settlements.mdtrt_id

),

settlement_flags as (

    select
        fixmedins_code,
        mdtrt_id,
        count(*) filter (where is_reversed) as reversed_settlement_count,
        min(insutype) filter (where not is_reversed) as insutype
    from settlement_status
    group by fixmedins_code, mdtrt_id

),

final as (

    select
        visits.mdtrt_id,
        cast(visits.visit_source as text) as visit_source,
        visits.business_date,
        visits.fixmedins_code,
        visits.psn_no,
        visits.med_type,
        coalesce(visits.insutype, settlement_flags.insutype) as insutype,
        visits.begin_time,
        visits.end_time,
        visits.visit_date,
        visits.discharge_date,
        visits.dept_codg,
        visits.prac_codg,
        visits.main_dise_codg,
        coalesce(diagnosis_lists.diag_codes, cast('{}' as text[])) as diag_codes,
        cast(coalesce(settlement_totals.fund_amount, 0) as numeric(16, 2)) as fund_amount,
        cast(coalesce(settlement_totals.medfee_amount, 0) as numeric(16, 2)) as medfee_amount,
        cast(coalesce(settlement_totals.settlement_count, 0) as integer) as settlement_count,
        cast(coalesce(settlement_flags.reversed_settlement_count, 0) as integer) as reversed_settlement_count,
        coalesce(settlement_totals.settlement_count, 0) > 0
        and settlement_flags.reversed_settlement_count = settlement_totals.settlement_count as is_cancelled,
        -- the folder dates this row was computed from (own, diagnoses',
        -- settlements', the sale's lines)
        array(
            select distinct
                unnest(
                    visits.line_dates
                    || coalesce(diagnosis_dates.diag_dates, cast('{}' as date[]))
                    || coalesce(settlement_totals.setl_dates, cast('{}' as date[]))
                ) as dependency_date
            order by dependency_date
        ) as dependency_dates,
        cast({{ current_load_watermark() }} as bigint) as built_through_load_id
    from visits
    left join diagnosis_lists on visits.mdtrt_id = diagnosis_lists.mdtrt_id
    left join diagnosis_dates on visits.mdtrt_id = diagnosis_dates.mdtrt_id
    left join settlement_totals
        on visits.fixmedins_code = settlement_totals.fixmedins_code and visits.mdtrt_id = settlement_totals.mdtrt_id
    left join settlement_flags
        on visits.fixmedins_code = settlement_flags.fixmedins_code and visits.mdtrt_id = settlement_flags.mdtrt_id

)

select * from final
