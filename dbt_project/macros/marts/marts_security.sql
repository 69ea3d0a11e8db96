-- noqa: disable=LT02
-- (Jinja-generated SQL: sqlfluff cannot judge indentation across template loops.)
{#- Post-hook of every marts model (dbt_project.yml): dbt rebuilds a table by
    creating a new relation, so policies and grants on the old one are gone.
    This re-applies them in the same transaction as the rename, so no rebuilt
    hospital-facing table is ever readable without its row-level security.

    - hospital-facing tables (var hospital_rls_models): RLS enabled; the policy
      is created when warehouse.security has installed security.visible_codes()
      (before that, RLS without a policy shows non-owners nothing: fail closed);
      SELECT granted to the group role mfm_hospital when it exists.
    - views: security_invoker = true, so a view never reads with its owner's
      rights past the RLS of the tables below it (PostgreSQL 15+).
    The same statements live in warehouse/security.sql (run after dbt). -#}
{% macro marts_hospital_models() %}
    {{ return(var('hospital_rls_models', [
        'fct_violations',
        'mart_hospital_violations',
        'mart_violation_counts',
        'mart_violation_summary',
        'mart_physician_scores',
        'mart_institution_monthly',
        'mart_department_monthly',
        'mart_physician_monthly',
    ])) }}
{% endmacro %}

{% macro marts_hospital_views() %}
    {{ return(var('hospital_views', ['mart_hospital_violations_by_rule'])) }}
{% endmacro %}

{% macro marts_row_security() %}
    {%- set rel = this.schema ~ '.' ~ this.identifier -%}
    {%- if model.config.materialized == 'view' -%}
        do $mfm_rls$
        begin
            execute 'alter view {{ rel }} set (security_invoker = true)';
            {%- if this.identifier in marts_hospital_views() %}
            if exists (select from pg_roles where rolname = 'mfm_hospital') then
                execute 'grant select on {{ rel }} to mfm_hospital';
            end if;
            {%- endif %}
        end
        $mfm_rls$
    {%- elif this.identifier in marts_hospital_models() -%}
        do $mfm_rls$
        begin
            execute 'alter table {{ rel }} enable row level security';
            if to_regprocedure('security.visible_codes()') is not null then
                execute 'drop policy if exists hospital_rows on {{ rel }}';
                execute 'create policy hospital_rows on {{ rel }} for select using ('
                    || '(select security.visible_codes()) is null '
                    || 'or fixmedins_code = any (cast((select security.visible_codes()) as text [])))';
            end if;
            if exists (select from pg_roles where rolname = 'mfm_hospital') then
                execute 'grant select on {{ rel }} to mfm_hospital';
            end if;
        end
        $mfm_rls$
    {%- else -%}
        select 1
    {%- endif -%}
{% endmacro %}
