{#- Versions of a reference catalogue from its full snapshots
    (extracts.md "Reference snapshots", docs/architecture.md "Catalogue, history convention").

    Each snapshot_date of the relation is a complete catalogue of that kind as of
    that date; a kind absent from a reference folder simply has no rows for that
    date, so it is unchanged. Consecutive snapshots holding a key with identical
    attributes form one version. A version starts at the snapshot where the key
    appears or its attributes change (valid_from, inclusive) and ends at the first
    later snapshot of the kind where it is absent or different (valid_to,
    exclusive; NULL = still valid).

    Returns a SELECT with the key columns, the attribute columns, version_no
    (1, 2, ... per key), valid_from, valid_to and is_latest_version (the
    version holding the newest snapshot that lists the key). -#}
{% macro snapshot_history(relation, key_columns, attribute_columns) %}
    {%- set keys = key_columns | join(', ') -%}
    with snapshot_dates as (

        select
            snapshot_date,
            row_number() over (order by snapshot_date) as snapshot_no
        from (select distinct snapshot_date from {{ relation }}) as distinct_dates

    ),

    snapshot_rows as (

        -- one row per key and snapshot (ingestion quarantines duplicates; the
        -- lowest source line wins here too, so the macro never fans out)
        select distinct on ({{ keys }}, rel.snapshot_date)
            rel.{{ (key_columns + attribute_columns) | join(', rel.') }},
            rel.snapshot_date,
            dates.snapshot_no,
            md5(cast(row({{ attribute_columns | join(', ') }}) as text)) as row_hash
        from {{ relation }} as rel
        inner join snapshot_dates as dates on rel.snapshot_date = dates.snapshot_date
        order by {{ keys }}, rel.snapshot_date, rel.source_line

    ),

    flagged as (

        select
            *,
            case
                when
                    lag(snapshot_no) over by_key = snapshot_no - 1
                    and lag(row_hash) over by_key = row_hash
                    then 0
                else 1
            end as starts_version
        from snapshot_rows
        window by_key as (partition by {{ keys }} order by snapshot_no)

    ),

    numbered as (

        select
            *,
            sum(starts_version) over (
                partition by {{ keys }} order by snapshot_no rows unbounded preceding
            ) as version_no
        from flagged

    ),

    versions as (

        select
            {{ keys }},
            version_no,
            min(snapshot_no) as first_snapshot_no,
            max(snapshot_no) as last_snapshot_no
        from numbered
        group by {{ keys }}, version_no

    ),

    history as (

        select
            first_row.{{ (key_columns + attribute_columns) | join(', first_row.') }},
            cast(versions.version_no as integer) as version_no,
            first_row.snapshot_date as valid_from,
            next_snapshot.snapshot_date as valid_to,
            versions.version_no = max(versions.version_no) over (
                partition by versions.{{ key_columns | join(', versions.') }}
            ) as is_latest_version
        from versions
        inner join numbered as first_row
            on
                {% for column in key_columns %}first_row.{{ column }} = versions.{{ column }} and {% endfor %}
                first_row.snapshot_no = versions.first_snapshot_no
        left join snapshot_dates as next_snapshot
            on next_snapshot.snapshot_no = versions.last_snapshot_no + 1

    )

    select * from history
{% endmacro %}

{#- "As of date d" against a history table (valid_from inclusive, valid_to exclusive). -#}
{% macro valid_as_of(alias, date_expression) -%}
    ({{ alias }}.valid_from <= {{ date_expression }} and ({{ alias }}.valid_to is null or {{ date_expression }} < {{ alias }}.valid_to))
{%- endmacro %}

{#- The surrogate key of a catalogue version: md5 of its key columns and
    valid_from joined with '|'. alias: the history CTE's, when the model joins. -#}
{% macro history_sk(key_columns, alias=none) -%}
    {%- set prefix = alias ~ '.' if alias else '' -%}
    md5({% for column in key_columns %}{{ prefix }}{{ column }} || '|' || {% endfor %}cast({{ prefix }}valid_from as text))
{%- endmacro %}

{#- The version columns every catalogue dimension ends with, from snapshot_history(). -#}
{% macro history_columns(alias=none) -%}
    {%- set prefix = alias ~ '.' if alias else '' -%}
    {{ prefix }}version_no,
    {{ prefix }}valid_from,
    {{ prefix }}valid_to,
    {{ prefix }}valid_to is null as is_current,
    {{ prefix }}is_latest_version
{%- endmacro %}
