{{ config(indexes=[{'columns': ['fixmedins_code', 'valid_from']}]) }}

with history as (

    {{ snapshot_history(
        ref('stg_ref_medins'),
        ['fixmedins_code'],
        ['fixmedins_name', 'fixmedins_type', 'hosp_lv', 'admdvs', 'begn_date', 'end_date']
    ) }}

),

final as (

    select
        md5(fixmedins_code || '|' || cast(valid_from as text)) as institution_sk,
        fixmedins_code,
        fixmedins_name,
        fixmedins_type,
        case left(fixmedins_code, 1)
            when 'H' then 'hospital'
            when 'P' then 'pharmacy'
        end as institution_kind,
        substr(fixmedins_code, 2, 6) as region_code,
        hosp_lv,
        admdvs,
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
