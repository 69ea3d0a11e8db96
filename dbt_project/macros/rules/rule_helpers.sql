{#- Shared building blocks of the audit-rule models (models/rules).
    Every rule reads its parameters from the seeds, never from literals:
    ref('audit_rules') (one row per rule) and ref('rule_threshold_overrides')
    (per hosp_lv). -#}

{#- The rule's catalogue row; no row when the rule is disabled, so a disabled
    rule produces no suspects (every rule cross-joins this CTE). -#}
{% macro rule_catalogue(code) -%}
    select
        ar.code as rule_code,
        ar.rule_version,
        ar.disposition,
        ar.severity,
        -- thresholds are text in the seed (empty = none): see seeds/_audit_rules.yml
        cast(nullif(trim(ar.threshold), '') as numeric) as threshold,
        cast(nullif(trim(ar.threshold_alt), '') as numeric) as threshold_alt
    from {{ ref('audit_rules') }} as ar
    where ar.code = '{{ code }}' and ar.enabled
{%- endmacro %}

{#- The rule's threshold overrides, one row per institution level. -#}
{% macro rule_overrides(code) -%}
    select
        ov.hosp_lv,
        cast(nullif(trim(ov.threshold), '') as numeric) as threshold,
        cast(nullif(trim(ov.threshold_alt), '') as numeric) as threshold_alt
    from {{ ref('rule_threshold_overrides') }} as ov
    where ov.rule_code = '{{ code }}'
{%- endmacro %}

{#- Catalogue history: the version of a dim row valid on date d
    (valid_from inclusive, valid_to exclusive, NULL = still valid);
    the rules' name for valid_as_of() (macros/snapshot_history.sql). -#}
{% macro rule_as_of(alias, d) -%}
    {{ valid_as_of(alias, d) }}
{%- endmacro %}

{#- Registration / agreement / practitioner validity: begn_date <= d and
    (end_date is NULL or d <= end_date), both ends inclusive. -#}
{% macro rule_is_active(alias, d, begn='begn_date', end='end_date') -%}
    ({{ alias }}.{{ begn }} <= {{ d }} and ({{ alias }}.{{ end }} is null or {{ d }} <= {{ alias }}.{{ end }}))
{%- endmacro %}

{#- Fee lines that count for the rules: net of refunds (int_fee_lines already
    is) and not part of a cancelled visit (every settlement reversed).
    `filter`: a condition on `fl` the rule applies anyway (it also narrows
    the index probes of an incremental build). Incremental builds read the
    lines of the rule's scope only (macros/rules/rule_incremental.sql). -#}
{% macro rule_live_fee_lines(filter='true') -%}
    {%- set scope = rule_scope() if rule_is_incremental() else none -%}
    {%- if scope == 'visit' -%}
        select
            fl.*
        from {{ rule_delta_relation('int_rule_fee_lines') }} as fl
        where not fl.is_fully_refunded and not fl.is_visit_cancelled and {{ filter }}
    {%- elif scope == 'prescription' -%}
        select
            fl.*
        from rule_scope as sc
        cross join lateral (
            -- through the partial index (fixmedins_code, rxno) where list_type = '102'
            select f.*
            from {{ ref('int_fee_lines') }} as f
            where {{ rule_scope_match(scope, 'f', 'sc') }} and f.list_type = '102'
        ) as fl
        where {{ filter }} and not exists ({{ rule_cancelled_visit('fl') }})
    {%- elif scope == 'dispensing_person' -%}
        {#- R05: the person's drug lines from from_date (the lines before it are
            context: rule_dispensing_context). The changed visits' lines come
            from int_rule_fee_lines, this build's compact copy with current
            flags. The person's other lines from from_date (a stay reaching back
            puts the person's later outpatient lines in scope) are found
            index-only in the partial (psn_no, fee_date) index of netting, which
            includes built_through_load_id and the visit key, and only those
            visits are then read; so the day's new lines are read once. The
            verdicts before from_date stand (the pre-hook keeps them). -#}
        {%- set changes = rule_delta_relation('int_rule_changes') -%}
        select
            {{ rule_fee_line_columns('fl') }}
        -- all in scope: the scope's persons and from_dates are these lines'
        from {{ rule_delta_relation('int_rule_fee_lines') }} as fl
        where not fl.is_fully_refunded and not fl.is_visit_cancelled and {{ filter }}
        union all
        select
            {{ rule_fee_line_columns('fl') }}
        from (
            select distinct
                sc.psn_no,
                sc.from_date,
                ix.fixmedins_code,
                ix.mdtrt_id
            from rule_scope as sc
            cross join lateral (
                select
                    n.fixmedins_code,
                    n.mdtrt_id
                from {{ ref('int_fee_line_netting') }} as n
                where
                    n.psn_no = sc.psn_no and n.fee_date >= sc.from_date
                    and n.list_type = '101' and n.prd_days is not null
                    and n.built_through_load_id <= (select rr.base_load_id from {{ rule_delta_relation('int_rule_refresh') }} as rr)
            ) as ix
            where not exists (
                select 1 from {{ changes }} as ch
                where ch.fixmedins_code = ix.fixmedins_code and ch.mdtrt_id = ix.mdtrt_id
            )
        ) as ov
        inner join {{ ref('int_fee_lines') }} as fl
            on fl.fixmedins_code = ov.fixmedins_code and fl.mdtrt_id = ov.mdtrt_id
        where
            fl.psn_no = ov.psn_no and fl.fee_date >= ov.from_date and {{ filter }}
            and not exists ({{ rule_cancelled_visit('fl') }})
    {%- elif scope is none -%}
        select
            fl.*
        from {{ ref('int_fee_lines') }} as fl
        where {{ filter }} and not exists ({{ rule_cancelled_visit('fl') }})
    {%- else -%}
        {{ exceptions.raise_compiler_error("rule " ~ this.name ~ ": no fee-line scope for rule_scope '" ~ scope ~ "'") }}
    {%- endif -%}
{%- endmacro %}

{#- The cancelled visit of the fee line `alias`, if it is one. -#}
{% macro rule_cancelled_visit(alias) -%}
    select 1
    from {{ ref('int_visits') }} as cv
    where
        cv.mdtrt_id = {{ alias }}.mdtrt_id
        and cv.fixmedins_code = {{ alias }}.fixmedins_code
        and cv.is_cancelled
{%- endmacro %}

{#- The columns every rule's fee-line rows share (int_fee_lines' and
    int_rule_fee_lines' common columns). -#}
{% macro rule_fee_line_columns(alias) -%}
    {%- set cols = ['line_source', 'business_date', 'fixmedins_code', 'mdtrt_id', 'feedetl_sn', 'psn_no',
                    'med_type', 'fee_time', 'fee_date', 'med_list_codg', 'medins_list_codg', 'list_type', 'cnt',
                    'pric', 'amount', 'dept_codg', 'prac_codg', 'rxno', 'prd_days', 'hosp_appr_flag',
                    'original_cnt', 'original_amount', 'refunded_cnt', 'refunded_amount', 'refund_line_count',
                    'source_file', 'source_line', 'load_id'] -%}
    {%- for c in cols %}{{ alias }}.{{ c }}{% if not loop.last %}, {% endif %}{% endfor -%}
{%- endmacro %}

{#- R05's context in a dispensing_person build: per (person, drug), the latest
    coverage end (fee_date + prd_days) of the live drug lines dated before the
    scope's from_date whose supply reaches past it. Every judged line is on or
    after from_date, so each of these lines is earlier than all of them; an
    earlier line whose supply ended by from_date leaves remaining <= 0, never
    over a threshold (never negative: seed tests). Read index-only from the
    partial (psn_no, fee_date + prd_days) index, which includes the columns
    asked here. No row in a full build (the judged lines are then all lines). -#}
{% macro rule_dispensing_context() -%}
    {%- if (rule_scope() if rule_is_incremental() else none) == 'dispensing_person' -%}
        select
            sc.psn_no,
            cx.med_list_codg,
            max(cx.coverage_end_date) as coverage_end_date
        from rule_scope as sc
        cross join lateral (
            select
                n.med_list_codg,
                n.fixmedins_code,
                n.mdtrt_id,
                n.fee_date + n.prd_days as coverage_end_date
            from {{ ref('int_fee_line_netting') }} as n
            where
                n.psn_no = sc.psn_no
                and n.fee_date + n.prd_days > sc.from_date and n.fee_date < sc.from_date
                and n.list_type = '101' and n.prd_days is not null
                and not n.is_fully_refunded
        ) as cx
        where not exists ({{ rule_cancelled_visit('cx') }})
        group by sc.psn_no, cx.med_list_codg
    {%- else -%}
        select
            cast(null as text) as psn_no,
            cast(null as text) as med_list_codg,
            cast(null as date) as coverage_end_date
        where false
    {%- endif -%}
{%- endmacro %}

{#- Visits that count for the rules (cancelled visits count for none);
    incremental builds read the visits of the rule's scope only. -#}
{% macro rule_live_visits() -%}
    {%- set scope = rule_scope() if rule_is_incremental() else none -%}
    select vi.*
    {%- if scope is none %}
    from {{ ref('int_visits') }} as vi
    where not coalesce(vi.is_cancelled, false)
    {%- elif scope == 'visit' %}
    from (select distinct ch.fixmedins_code, ch.mdtrt_id from {{ rule_delta_relation('int_rule_changes') }} as ch) as sc
    inner join {{ ref('int_visits') }} as vi
        on vi.fixmedins_code = sc.fixmedins_code and vi.mdtrt_id = sc.mdtrt_id
    where not coalesce(vi.is_cancelled, false)
    {%- elif scope == 'person_day' %}
    from {{ ref('int_visits') }} as vi
    where
        not coalesce(vi.is_cancelled, false)
        and (vi.psn_no, vi.visit_date) in (select sc.psn_no, sc.visit_date from rule_scope as sc)
    {%- elif scope == 'person_month' %}
    from rule_scope as sc
    -- through the (psn_no, visit_date) index
    inner join {{ ref('int_visits') }} as vi
        on
            vi.psn_no = sc.psn_no
            and vi.visit_date >= sc.period_start
            and vi.visit_date < cast(sc.period_start + interval '1 month' as date)
    where not coalesce(vi.is_cancelled, false)
    {%- elif scope == 'person' %}
    from {{ ref('int_visits') }} as vi
    where
        not coalesce(vi.is_cancelled, false)
        and vi.psn_no in (select sc.psn_no from rule_scope as sc)
    {%- else %}
        {{ exceptions.raise_compiler_error("rule " ~ this.name ~ ": no visit scope for rule_scope '" ~ scope ~ "'") }}
    {%- endif -%}
{%- endmacro %}

{#- Inpatient stays a rule judges (R12): those of its scope when incremental. -#}
{% macro rule_stays() -%}
    select st.*
    from {{ ref('int_inpatient_stays') }} as st
    {%- if rule_is_incremental() %}
    -- the persons first, as an array through the (psn_no, visit_date) index: as a
    -- semi-join the planner rescanned all stays once per scope row
    where
        st.psn_no = any(array(select sc.psn_no from rule_scope as sc))
        and exists (
            select 1 from rule_scope as sc
            where sc.psn_no = st.psn_no and sc.fixmedins_code = st.fixmedins_code
        )
    {%- endif -%}
{%- endmacro %}

{#- Institution attributes (hosp_lv, agreement) as of the event date d of the
    CTE `alias`: left join dim_institution on its code. -#}
{% macro rule_join_institution_as_of(alias, d, inst_alias='inst') -%}
    left join {{ ref('dim_institution') }} as {{ inst_alias }}
        on
            {{ inst_alias }}.fixmedins_code = {{ alias }}.fixmedins_code
            and {{ rule_as_of(inst_alias, d) }}
{%- endmacro %}

{#- Threshold of a rule for an institution level: the override when the seed
    has one for that hosp_lv, else the rule's default. -#}
{% macro rule_threshold(column, rule_alias='rc', override_alias='ov') -%}
    coalesce({{ override_alias }}.{{ column }}, {{ rule_alias }}.{{ column }})
{%- endmacro %}

{#- Amount convention: yuan, 2 decimals, half away from zero (PostgreSQL
    round() on numeric does exactly that). -#}
{% macro rule_amount(expr) -%}
    cast(round(cast({{ expr }} as numeric), 2) as numeric(16, 2))
{%- endmacro %}

{#- The common output of every rule model. `suspects` must carry the grain
    columns (NULL where they do not apply), raw_amount and evidence (jsonb);
    `rc` is the rule's catalogue row. -#}
{% macro rule_output(suspects='suspects', rule_alias='rc') -%}
    select
        cast({{ rule_alias }}.rule_code as text) as rule_code,
        cast({{ rule_alias }}.rule_version as text) as rule_version,
        cast({{ rule_alias }}.disposition as text) as disposition,
        cast({{ rule_alias }}.severity as text) as severity,
        cast(su.business_date as date) as business_date,
        cast(su.period_start as date) as period_start,
        cast(su.fixmedins_code as text) as fixmedins_code,
        cast(su.dept_codg as text) as dept_codg,
        cast(su.prac_codg as text) as prac_codg,
        cast(su.psn_no as text) as psn_no,
        cast(su.mdtrt_id as text) as mdtrt_id,
        cast(su.feedetl_sn as text) as feedetl_sn,
        cast(su.rxno as text) as rxno,
        {{ rule_amount('su.raw_amount') }} as amount,
        cast(
            su.evidence
            || jsonb_build_object('rule_version', {{ rule_alias }}.rule_version)
            as jsonb
        ) as evidence
    from {{ suspects }} as su
    cross join {{ rule_alias }}
{%- endmacro %}

{#- Column list of a line rule's suspects from a fee-line CTE alias. -#}
{% macro rule_line_grain(alias) -%}
    {{ alias }}.fee_date as business_date,
    cast(null as date) as period_start,
    {{ alias }}.fixmedins_code,
    {{ alias }}.dept_codg,
    {{ alias }}.prac_codg,
    {{ alias }}.psn_no,
    {{ alias }}.mdtrt_id,
    {{ alias }}.feedetl_sn,
    {{ alias }}.rxno
{%- endmacro %}

{#- Column list of a visit rule's suspects from a visit CTE alias. -#}
{% macro rule_visit_grain(alias, business_date) -%}
    {{ business_date }} as business_date,
    cast(null as date) as period_start,
    {{ alias }}.fixmedins_code,
    {{ alias }}.dept_codg,
    {{ alias }}.prac_codg,
    {{ alias }}.psn_no,
    {{ alias }}.mdtrt_id,
    cast(null as text) as feedetl_sn,
    cast(null as text) as rxno
{%- endmacro %}

{#- The current relation of the model being built, or none on its first
    build (and outside dbt's execute phase, e.g. when a linter renders). -#}
{% macro rule_previous_relation() -%}
    {%- if execute -%}
        {{ return(load_relation(this)) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}
