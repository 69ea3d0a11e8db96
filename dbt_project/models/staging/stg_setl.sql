with source as (

    select * from {{ source('staging', 'setl') }}

),

final as (

    select
        business_date,
        {{ clean_code('setl_id') }} as setl_id,
        {{ clean_code('mdtrt_id') }} as mdtrt_id,
        {{ clean_code('psn_no') }} as psn_no,
        {{ clean_code('fixmedins_code') }} as fixmedins_code,
        {{ clean_code('insutype') }} as insutype,
        {{ clean_code('med_type') }} as med_type,
        setl_time,
        medfee_sumamt,
        fulamt_ownpay_amt,
        overlmt_selfpay,
        inscp_scp_amt,
        hifp_pay,
        acct_pay,
        psn_cash_pay,
        fund_pay_sumamt,
        {{ clean_code('refd_setl_flag') }} as refd_setl_flag,
        {{ clean_code('init_setl_id') }} as init_setl_id,
        coalesce(trim(refd_setl_flag) = '1', false) as is_reversal,
        source_file,
        source_line,
        load_id
    from source

)

select * from final
