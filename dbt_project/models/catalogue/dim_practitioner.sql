{{ config(indexes=[{'columns': ['prac_codg', 'valid_from']}, {'columns': ['fixmedins_code']}]) }}

with history as (

    {{ snapshot_history(
        ref('stg_ref_practitioner'),
        ['prac_codg'],
        ['prac_name', 'prac_type', 'fixmedins_code', 'dept_codg', 'begn_date', 'end_date']
    ) }}

),

final as (

    select
        {{ history_sk(['prac_codg']) }} as practitioner_sk,
        prac_codg,
        prac_name,
        prac_type,
        fixmedins_code,
        dept_codg,
        begn_date,
        end_date,
        {{ history_columns() }}
    from history

)

select * from final
