{#- Incremental audit rules (docs/dbt.md, "Incremental rules").

    Every rule model is incremental (append) with a refresh scope, its config
    `rule_scope`: the unit whose suspects a change can move.
      visit         (fixmedins_code, mdtrt_id)   line and visit rules
      prescription  (fixmedins_code, rxno)       R10
      person_day    (psn_no, visit date)         R02
      person_month  (psn_no, calendar month)     R01, R03
      dispensing_person  (psn_no, from_date)     R05 (the person's lines from the
                                                 earliest changed fee date)
      person        psn_no                       R13 (the person's stays)
      person_institution (psn_no, fixmedins_code)  R12 (previous stay)
    A build is incremental when the rule's last build went through
    int_rule_refresh.base_load_id with the same catalogue row and overrides
    (meta.rule_build_state) and int_rule_refresh is not full. Then the
    pre-hook puts the scope keys the changes touch into the temporary table
    rule_scope (the visit scope reads int_rule_changes directly) and deletes
    the rule's rows in it, the model's SQL reads only
    the driving rows of the scope (rule_live_fee_lines, rule_live_visits,
    rule_stays) and appends their suspects. Otherwise it deletes every row
    and recomputes all: the result is the same either way (tested:
    tests/test_rules_incremental.py). -#}

{#- 'incremental' or 'full' for the model being built: a small query on
    every call, so the model's SQL, its pre-hook and its post-hook agree. -#}
{% macro rule_refresh_mode() -%}
    {#- unit tests render the model without a relation of its own: full -#}
    {%- if not execute or model.resource_type == 'unit_test' or this is none or not is_incremental() -%}
        {{ return('full') }}
    {%- endif -%}
    {%- if not rule_refresh_tables_exist() -%}
        {{ return('full') }}
    {%- endif -%}
    {%- set sql -%}
        select case
            when rr.is_full then 'full'
            when st.through_load_id is distinct from rr.base_load_id then 'full'
            when st.params_md5 is distinct from ({{ rule_params_md5() }}) then 'full'
            else 'incremental'
        end
        from {{ rule_delta_relation('int_rule_refresh') }} as rr
        left join {{ source('meta', 'rule_build_state') }} as st on st.model_name = '{{ this.name }}'
    {%- endset -%}
    {%- set result = run_query(sql) -%}
    {{ return(result.columns[0].values()[0] if result.rows | length > 0 else 'full') }}
{%- endmacro %}

{#- int_rule_refresh and meta.rule_build_state exist: not so when a model is
    built on hand-made upstream tables (tests/_marts_fixture.py) or before
    the ingestion DDL ran; such a build is full and records nothing. -#}
{% macro rule_refresh_tables_exist() -%}
    {{ return(load_relation(rule_delta_relation('int_rule_refresh')) is not none
              and load_relation(source('meta', 'rule_build_state')) is not none) }}
{%- endmacro %}

{#- The model's config `rule_scope` (read only while dbt executes). -#}
{% macro rule_scope() -%}
    {{ return(config.get('rule_scope')) }}
{%- endmacro %}

{% macro rule_is_incremental() -%}
    {{ return(rule_refresh_mode() == 'incremental') }}
{%- endmacro %}

{#- The shared refresh models next to int_rule_fee_lines (the rules' declared
    parent: `-- depends_on` in each rule; it depends on the other two). -#}
{% macro rule_delta_relation(identifier) -%}
    {{ return(ref('int_rule_fee_lines').incorporate(path={'identifier': identifier})) }}
{%- endmacro %}

{#- The rule's parameters as data: its catalogue row and its overrides. A
    change (a threshold, a disposition, a new rule_version) rebuilds the rule. -#}
{% macro rule_params_md5() -%}
    select md5(
        coalesce((select string_agg(cast(ar as text), ',') from {{ ref('audit_rules') }} as ar
                  where ar.code = '{{ rule_code_of(this.name) }}'), '')
        || '|' ||
        coalesce((select string_agg(cast(ov as text), ',' order by cast(ov as text))
                  from {{ ref('audit_rules').incorporate(path={'identifier': 'rule_threshold_overrides'}) }} as ov
                  where ov.rule_code = '{{ rule_code_of(this.name) }}'), '')
    )
{%- endmacro %}

{% macro rule_code_of(model_name) -%}
    {{ return(model_name.split('_')[1] | upper) }}
{%- endmacro %}

{#- Pre-hook of every rule model (dbt_project.yml). -#}
{% macro rule_refresh_prehook() -%}
    {%- if is_incremental() -%}
        {#- rule_refresh_mode() asks the database: once -#}
        {%- set incremental = rule_is_incremental() -%}
        {%- if incremental and rule_scope() == 'visit' -%}
            set local jit = off;
            -- the visit scope is int_rule_changes itself, indexed on (fixmedins_code,
            -- mdtrt_id): no scope table to build (ten rules share this scope)
            delete from {{ this }} as t
            where exists (
                select 1 from {{ rule_delta_relation('int_rule_changes') }} as s
                where {{ rule_scope_match('visit', 't', 's') }}
            );
        {%- elif incremental -%}
            set local jit = off;
            drop table if exists rule_scope;
            create temporary table rule_scope on commit drop as
            {{ rule_scope_keys(rule_scope()) }};
            -- plans probe the scope per driving row when they misjudge its size
            create index on rule_scope ({{ rule_scope_columns(rule_scope()) }});
            analyze rule_scope;
            delete from {{ this }} as t
            using rule_scope as s
            where {{ rule_scope_match(rule_scope(), 't', 's') }};
        {%- else -%}
            delete from {{ this }};
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- Post-hook: the watermark and parameters this build went through. -#}
{% macro rule_record_build() -%}
    {%- if not rule_refresh_tables_exist() -%}
        select 1
    {%- else -%}
        insert into {{ source('meta', 'rule_build_state') }} (model_name, through_load_id, params_md5, refresh_mode, built_at)
        select '{{ this.name }}', rr.through_load_id, ({{ rule_params_md5() }}), '{{ rule_refresh_mode() }}', now()
        from {{ rule_delta_relation('int_rule_refresh') }} as rr
        on conflict (model_name) do update set
            through_load_id = excluded.through_load_id,
            params_md5 = excluded.params_md5,
            refresh_mode = excluded.refresh_mode,
            built_at = excluded.built_at
    {%- endif -%}
{%- endmacro %}

{#- The scope keys the changes touch, per scope. Deleted rows count with
    their old values (a visit whose med_type changed is in both). -#}
{% macro rule_scope_keys(scope) -%}
    {%- set changes = rule_delta_relation('int_rule_changes') -%}
    {%- set lines = rule_delta_relation('int_rule_fee_lines') -%}
    {%- if scope == 'visit' -%}
        select distinct fixmedins_code, mdtrt_id from {{ changes }}
    {%- elif scope == 'prescription' -%}
        select fixmedins_code, rxno from {{ lines }} where list_type = '102' and rxno is not null
        union
        select fixmedins_code, rxno from {{ changes }}
        where change_kind = 'deleted_line' and list_type = '102' and rxno is not null
    {%- elif scope == 'person_day' -%}
        select distinct psn_no, event_date as visit_date from {{ changes }}
        where change_kind in ('visit', 'deleted_visit')
    {%- elif scope == 'person_month' -%}
        select distinct psn_no, cast(date_trunc('month', event_date) as date) as period_start from {{ changes }}
        where change_kind in ('visit', 'deleted_visit')
    {%- elif scope == 'dispensing_person' -%}
        -- every changed drug line, live or not (a refund or a cancellation removes
        -- one): a line's verdict reads only earlier days, so the person's verdicts
        -- before the earliest changed fee date stand
        select psn_no, min(fee_date) as from_date
        from (
            select psn_no, fee_date from {{ lines }} where list_type = '101' and prd_days is not null
            union all
            select psn_no, event_date from {{ changes }} where change_kind = 'deleted_line' and list_type = '101'
        ) as changed_drug_lines
        group by psn_no
    {%- elif scope == 'person' -%}
        select psn_no from {{ changes }}
        where change_kind in ('visit', 'deleted_visit') and med_type in ('11', '13', '14', '41', '21')
    {%- elif scope == 'person_institution' -%}
        select distinct psn_no, fixmedins_code from {{ changes }}
        where change_kind in ('visit', 'deleted_visit') and med_type = '21'
    {%- else -%}
        {{ exceptions.raise_compiler_error("rule " ~ this.name ~ ": unknown rule_scope '" ~ scope ~ "'") }}
    {%- endif -%}
{%- endmacro %}

{#- The columns of the scope's keys. -#}
{% macro rule_scope_columns(scope) -%}
    {{- {
        'visit': 'fixmedins_code, mdtrt_id',
        'prescription': 'fixmedins_code, rxno',
        'person_day': 'psn_no, visit_date',
        'person_month': 'psn_no, period_start',
        'dispensing_person': 'psn_no, from_date',
        'person': 'psn_no',
        'person_institution': 'psn_no, fixmedins_code',
    }[scope] -}}
{%- endmacro %}

{#- A row of alias `t` (rule output or driving row) in scope row `s`. -#}
{% macro rule_scope_match(scope, t, s, date_column='business_date') -%}
    {%- if scope == 'visit' -%}
        {{ t }}.fixmedins_code = {{ s }}.fixmedins_code and {{ t }}.mdtrt_id = {{ s }}.mdtrt_id
    {%- elif scope == 'prescription' -%}
        {{ t }}.fixmedins_code = {{ s }}.fixmedins_code and {{ t }}.rxno = {{ s }}.rxno
    {%- elif scope == 'person_day' -%}
        {{ t }}.psn_no = {{ s }}.psn_no and {{ t }}.{{ date_column }} = {{ s }}.visit_date
    {%- elif scope == 'person_month' -%}
        {{ t }}.psn_no = {{ s }}.psn_no and {{ t }}.period_start = {{ s }}.period_start
    {%- elif scope == 'dispensing_person' -%}
        {{ t }}.psn_no = {{ s }}.psn_no and {{ t }}.{{ date_column }} >= {{ s }}.from_date
    {%- elif scope == 'person' -%}
        {{ t }}.psn_no = {{ s }}.psn_no
    {%- elif scope == 'person_institution' -%}
        {{ t }}.psn_no = {{ s }}.psn_no and {{ t }}.fixmedins_code = {{ s }}.fixmedins_code
    {%- endif -%}
{%- endmacro %}

{#- Post-hook of int_rule_changes: deletions at or below the refresh's base
    were read by an earlier build; no later build reads them (its base is at
    least this build's through_load_id, and a rule that fell behind
    recomputes in full). -#}
{% macro prune_intermediate_deletions() -%}
    delete from {{ source('meta', 'intermediate_deletions') }}
    where deleted_by_load_id <= (select coalesce(max(base_load_id), 0) from {{ ref('int_rule_refresh') }})
{%- endmacro %}
