{#- Person-month frequency rules (R01 visits, R03 pharmacy sales): a person's
    live visits of one med_type in a calendar month, counted across
    institutions, and the ones past the month's threshold. -#}

{#- CTEs `events` (the person's visits of med_type with their month),
    `ranked` (event_rank in begin_time order, ties by mdtrt_id, and the
    month's event_count) and `person_months` (one row per person and month).
    The rule model follows with a `thresholds` CTE over person_months. -#}
{% macro person_month_events(med_type) -%}
events as (
    select
        lv.mdtrt_id,
        lv.psn_no,
        lv.begin_time,
        lv.visit_date,
        lv.fund_amount,
        cast(date_trunc('month', lv.visit_date) as date) as period_start
    from ({{ rule_live_visits() }}) as lv
    where lv.med_type = '{{ med_type }}'
),

ranked as (
    select
        ev.*,
        row_number() over (
            partition by ev.psn_no, ev.period_start
            order by ev.begin_time, ev.mdtrt_id
        ) as event_rank,
        count(*) over (partition by ev.psn_no, ev.period_start) as event_count
    from events as ev
),

person_months as (
    select distinct
        rk.psn_no,
        rk.period_start,
        rk.event_count
    from ranked as rk
)
{%- endmacro %}

{#- The suspects of a person-month rule: one per person-month of `thresholds`
    (psn_no, period_start, event_count, threshold and extra_columns) whose
    event_count exceeds its threshold. business_date = date of the first event
    past the threshold; amount = fund amount of the events past it. Evidence
    names the count count_key and carries threshold, extra_columns and the
    suspect mdtrt_ids in rank order. -#}
{% macro person_month_excess(count_key, extra_columns=[], thresholds='thresholds') -%}
    {%- set group_columns = ['psn_no', 'period_start', 'event_count', 'threshold'] + extra_columns -%}
    select
        min(case when rk.event_rank = th.threshold + 1 then rk.visit_date end) as business_date,
        th.period_start,
        cast(null as text) as fixmedins_code,
        cast(null as text) as dept_codg,
        cast(null as text) as prac_codg,
        th.psn_no,
        cast(null as text) as mdtrt_id,
        cast(null as text) as feedetl_sn,
        cast(null as text) as rxno,
        sum(rk.fund_amount) as raw_amount,
        jsonb_build_object(
            '{{ count_key }}', th.event_count,
            'threshold', th.threshold,
            {% for column in extra_columns %}'{{ column }}', th.{{ column }}, {% endfor %}
            'suspect_mdtrt_ids', jsonb_agg(rk.mdtrt_id order by rk.event_rank)
        ) as evidence
    from {{ thresholds }} as th
    inner join ranked as rk
        on
            rk.psn_no = th.psn_no
            and rk.period_start = th.period_start
            and rk.event_rank > th.threshold
    where th.event_count > th.threshold
    group by th.{{ group_columns | join(', th.') }}
{%- endmacro %}
