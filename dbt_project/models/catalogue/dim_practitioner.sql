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
        md5(prac_codg || '|' || cast(valid_from as text)) as practitioner_sk,
        prac_codg,
        prac_name,
        prac_type,
        fixmedins_code,
        dept_codg,
        begn_date,
        end_date,
        version_no,
        valid_from,
        valid_to,
        valid_to is null as is_current,
        is_latest_version
    from history

)

select * from final
