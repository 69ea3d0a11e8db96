{{ stg_fee_lines('pharmacy_sales') }}
