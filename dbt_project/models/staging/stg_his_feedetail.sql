{{ stg_fee_lines('his_feedetail') }}
