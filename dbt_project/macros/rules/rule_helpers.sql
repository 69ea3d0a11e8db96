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
    lines of the rule's scope only (macros/rules/rule_incremental.sql).
    Every row carries judged_from: NULL, or for a dispensing_person build the
    scope's from_date; the lines before it are context only (their verdicts
    stand, the rule must not emit them). -#}
{% macro rule_live_fee_lines(filter='true') -%}
    {%- set scope = rule_scope() if rule_is_incremental() else none -%}
    {%- if scope == 'visit' -%}
        select
            fl.*,
            cast(null as date) as judged_from
        from {{ rule_delta_relation('int_rule_fee_lines') }} as fl
        where not fl.is_fully_refunded and not fl.is_visit_cancelled and {{ filter }}
    {%- elif scope == 'prescription' -%}
        select
            fl.*,
            cast(null as date) as judged_from
        from rule_scope as sc
        cross join lateral (
            -- through the partial index (fixmedins_code, rxno) where list_type = '102'
            select f.*
            from {{ ref('int_fee_lines') }} as f
            where {{ rule_scope_match(scope, 'f', 'sc') }} and f.list_type = '102'
        ) as fl
        where {{ filter }} and not exists ({{ rule_cancelled_visit('fl') }})
    {%- elif scope == 'dispensing_person' -%}
        {#- R05: the person's drug lines from from_date, and the earlier ones whose
            supply reaches past from_date (an earlier line whose coverage ended
            before it leaves remaining <= 0 for every judged line: never over a
            threshold, which is never negative). Two partial indexes of
            int_fee_line_netting, so the person's expired history stays unread. -#}
        select
            fl.*,
            sc.from_date as judged_from
        from rule_scope as sc
        cross join lateral (
            select f.*
            from {{ ref('int_fee_lines') }} as f
            where
                f.psn_no = sc.psn_no and f.fee_date >= sc.from_date
                and f.list_type = '101' and f.prd_days is not null
            union all
            select f.*
            from {{ ref('int_fee_lines') }} as f
            where
                f.psn_no = sc.psn_no and f.fee_date + f.prd_days > sc.from_date and f.fee_date < sc.from_date
                and f.list_type = '101' and f.prd_days is not null
        ) as fl
        where {{ filter }} and not exists ({{ rule_cancelled_visit('fl') }})
    {%- elif scope is none -%}
        select
            fl.*,
            cast(null as date) as judged_from
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
