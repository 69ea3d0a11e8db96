-- Database roles, grants and row-level security of the warehouse (docs/security.md).
--
-- Idempotent: run it after every dbt build (python -m warehouse.security apply);
-- running it twice changes nothing. warehouse/security.py sets these session
-- settings first (set_config(..., true), so they last one transaction):
--   mfm.hospital_tables    comma list of marts tables restricted per institution
--   mfm.hospital_views     comma list of marts views hospital roles may read
--   mfm.personal_columns   comma list of columns never granted outside the loader/transformer
--   mfm.dbt_schemas        comma list of schemas dbt owns
-- Roles are cluster-wide, grants and policies per database: a role that another
-- database (or a concurrent run) created first is simply reused.

-- 1. roles ---------------------------------------------------------------------
do $roles$
declare
    r record;
begin
    for r in
        select *
        from (values
            ('mfm_loader', true),
            ('mfm_transformer', true),
            ('mfm_bi_readonly', true),
            ('mfm_auditor', true),
            ('mfm_hospital', false)
        ) as t (role_name, can_login)
    loop
        if not exists (select from pg_roles where rolname = r.role_name) then
            begin
                execute format(
                    'create role %I %s nosuperuser nocreatedb nocreaterole inherit',
                    r.role_name, case when r.can_login then 'login' else 'nologin' end
                );
            exception when duplicate_object or unique_violation then
                null;  -- created concurrently by another database's run
            end;
        end if;
    end loop;
end
$roles$;

-- 2. schemas -------------------------------------------------------------------
create schema if not exists security;
create schema if not exists staging;
create schema if not exists meta;
create schema if not exists load;

do $schemas$
declare
    s text;
begin
    foreach s in array string_to_array(current_setting('mfm.dbt_schemas'), ',') loop
        execute format('create schema if not exists %I', s);
        execute format('alter schema %I owner to mfm_transformer', s);
    end loop;
    foreach s in array array['staging', 'meta', 'load'] loop
        execute format('alter schema %I owner to mfm_loader', s);
    end loop;
end
$schemas$;

-- 3. the institution each hospital role stands for, and the policy function ----
create table if not exists security.hospital_roles (
    role_name text primary key,
    fixmedins_code text not null unique,
    created_at timestamptz not null default now()
);

-- NULL = no restriction. A member of any hospital role sees only its
-- institution(s), whatever it sets; any other session may narrow itself to
-- institutions with the setting medwatch.fixmedins_code (comma list), which is
-- how Superset's per-hospital users are restricted in PostgreSQL too.
create or replace function security.visible_codes() returns text []
language sql stable
as $fn$
    select coalesce(
        (
            select array_agg(h.fixmedins_code order by h.fixmedins_code)
            from security.hospital_roles as h
            inner join pg_roles as r on h.role_name = r.rolname
            where pg_has_role(current_user, r.oid, 'MEMBER')
        ),
        case
            when nullif(trim(current_setting('medwatch.fixmedins_code', true)), '') is not null
                then string_to_array(upper(replace(current_setting('medwatch.fixmedins_code', true), ' ', '')), ',')
        end
    )
$fn$;

revoke all on schema security from public;
grant usage on schema security to public;
revoke all on all tables in schema security from public;
grant select on security.hospital_roles to public;
grant execute on function security.visible_codes() to public;

-- 4. nobody but the owners writes: no CREATE in public, no temp tables ---------
revoke create on schema public from public;
do $db$
begin
    execute format('revoke temporary on database %I from public', current_database());
    execute format('grant temporary on database %I to mfm_loader, mfm_transformer', current_database());
    execute format('grant connect on database %I to mfm_loader, mfm_transformer, mfm_bi_readonly, mfm_auditor, mfm_hospital',
        current_database());
    execute format('grant create on database %I to mfm_transformer', current_database());
end
$db$;

-- 5. ownership: the loader owns staging/meta/load, the transformer dbt's schemas,
-- so either can run as its own role after a superuser set things up ------------
do $owners$
declare
    r record;
begin
    for r in
        select
            c.oid::regclass as rel,
            case c.relkind when 'v' then 'view' when 'm' then 'materialized view'
                when 'S' then 'sequence' when 'f' then 'foreign table' else 'table' end as rel_type,
            case when n.nspname in ('staging', 'meta', 'load') then 'mfm_loader' else 'mfm_transformer' end as new_owner
        from pg_class as c
        inner join pg_namespace as n on c.relnamespace = n.oid
        where
            c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
            and (n.nspname in ('staging', 'meta', 'load')
                or n.nspname = any (string_to_array(current_setting('mfm.dbt_schemas'), ',')))
            and pg_get_userbyid(c.relowner) <> case
                when n.nspname in ('staging', 'meta', 'load') then 'mfm_loader' else 'mfm_transformer' end
            -- a sequence owned by a column follows its table
            and not (c.relkind = 'S' and exists (
                select from pg_depend as d
                where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype in ('a', 'i')
            ))
    loop
        execute format('alter %s %s owner to %I', r.rel_type, r.rel, r.new_owner);
    end loop;
end
$owners$;

-- 6. loader: writes staging, meta, load ------------------------------------------
grant usage, create on schema staging, meta, load to mfm_loader;
grant all on all tables in schema staging, meta, load to mfm_loader;
grant all on all sequences in schema staging, meta, load to mfm_loader;

-- 7. transformer: reads staging and meta, owns and writes dbt's schemas -------
grant usage on schema staging, meta to mfm_transformer;
grant select on all tables in schema staging, meta to mfm_transformer;
do $transformer$
declare
    s text;
begin
    foreach s in array string_to_array(current_setting('mfm.dbt_schemas'), ',') loop
        execute format('grant usage, create on schema %I to mfm_transformer', s);
        execute format('grant all on all tables in schema %I to mfm_transformer', s);
    end loop;
end
$transformer$;

-- 8. readers: the BI role reads marts and ref; the auditor reads everything but
-- personal data (column grants on staging and meta); read-only, always -------
do $readers$
declare
    s text;
    r record;
    personal text [] := string_to_array(current_setting('mfm.personal_columns'), ',');
    creator text;
begin
    -- every schema a reader may touch, with the writes they must never have
    foreach s in array string_to_array(current_setting('mfm.dbt_schemas'), ',') || array['staging', 'meta', 'load'] loop
        execute format(
            'revoke insert, update, delete, truncate, references, trigger on all tables in schema %I '
            || 'from mfm_bi_readonly, mfm_auditor, mfm_hospital, public', s);
        execute format('revoke create on schema %I from mfm_bi_readonly, mfm_auditor, mfm_hospital, public', s);
    end loop;

    foreach s in array string_to_array(current_setting('mfm.dbt_schemas'), ',') loop
        execute format('grant usage on schema %I to mfm_auditor', s);
        execute format('grant select on all tables in schema %I to mfm_auditor', s);
        -- tables dbt creates later (as the transformer or whoever runs dbt now)
        foreach creator in array array['mfm_transformer', current_user] loop
            execute format('alter default privileges for role %I in schema %I grant select on tables to mfm_auditor',
                creator, s);
        end loop;
    end loop;

    foreach s in array array['marts', 'ref'] loop
        if s = any (string_to_array(current_setting('mfm.dbt_schemas'), ',')) then
            execute format('grant usage on schema %I to mfm_bi_readonly', s);
            execute format('grant select on all tables in schema %I to mfm_bi_readonly', s);
            foreach creator in array array['mfm_transformer', current_user] loop
                execute format(
                    'alter default privileges for role %I in schema %I grant select on tables to mfm_bi_readonly',
                    creator, s);
            end loop;
        end if;
    end loop;

    -- staging and meta: column by column, never the personal columns
    grant usage on schema staging, meta to mfm_auditor;
    for r in
        select c.table_schema, c.table_name, string_agg(format('%I', c.column_name), ', ' order by c.ordinal_position) as cols
        from information_schema.columns as c
        inner join pg_class as t on t.oid = format('%I.%I', c.table_schema, c.table_name)::regclass
        where c.table_schema in ('staging', 'meta') and t.relkind in ('r', 'p', 'v') and not t.relispartition
            and c.column_name <> all (personal)
        group by c.table_schema, c.table_name
    loop
        execute format('revoke select on %I.%I from mfm_auditor', r.table_schema, r.table_name);
        execute format('grant select (%s) on %I.%I to mfm_auditor', r.cols, r.table_schema, r.table_name);
    end loop;
end
$readers$;

-- 9. one role per institution (NOLOGIN, member of mfm_hospital) ---------------
do $hospitals$
declare
    code text;
    role_name text;
begin
    if to_regclass('catalogue.dim_institution') is null then
        return;
    end if;
    for code in execute 'select distinct fixmedins_code from catalogue.dim_institution where fixmedins_code is not null' loop
        role_name := 'hosp_' || lower(code);
        if not exists (select from pg_roles where rolname = role_name) then
            begin
                execute format('create role %I nologin nosuperuser nocreatedb nocreaterole inherit', role_name);
            exception when duplicate_object or unique_violation then
                null;
            end;
        end if;
        if not pg_has_role(role_name, 'mfm_hospital', 'MEMBER') then
            execute format('grant mfm_hospital to %I', role_name);
        end if;
        insert into security.hospital_roles (role_name, fixmedins_code) values (role_name, code)
        on conflict do nothing;
    end loop;
end
$hospitals$;

-- 10. row-level security on the hospital-facing tables, views security_invoker
do $rls$
declare
    t text;
    rel regclass;
    v record;
begin
    if to_regnamespace('marts') is null then
        return;
    end if;
    execute 'grant usage on schema marts to mfm_hospital';
    foreach t in array string_to_array(current_setting('mfm.hospital_tables'), ',') loop
        rel := to_regclass(format('marts.%I', t));
        continue when rel is null;
        execute format('alter table %s enable row level security', rel);
        execute format('drop policy if exists hospital_rows on %s', rel);
        execute format(
            'create policy hospital_rows on %s for select using ('
            || '(select security.visible_codes()) is null '
            || 'or fixmedins_code = any (cast((select security.visible_codes()) as text [])))', rel);
        execute format('grant select on %s to mfm_hospital', rel);
    end loop;

    -- every marts view, and every view anywhere that reads (through any chain of
    -- views) a table with row-level security, runs with the caller's rights
    for v in
        with recursive reads (view_oid) as (
            select r.ev_class
            from pg_rewrite as r
            inner join pg_depend as d on d.classid = 'pg_rewrite'::regclass and r.oid = d.objid
            inner join pg_class as c on d.refobjid = c.oid
            where c.relrowsecurity and r.ev_class <> c.oid
            union
            select r.ev_class
            from pg_rewrite as r
            inner join pg_depend as d on d.classid = 'pg_rewrite'::regclass and r.oid = d.objid
            inner join reads on d.refobjid = reads.view_oid
            where r.ev_class <> d.refobjid
        )
        select c.oid::regclass as rel
        from pg_class as c
        where c.relkind = 'v'
            and (c.oid in (select view_oid from reads) or c.relnamespace = 'marts'::regnamespace)
    loop
        execute format('alter view %s set (security_invoker = true)', v.rel);
    end loop;

    foreach t in array string_to_array(current_setting('mfm.hospital_views'), ',') loop
        rel := to_regclass(format('marts.%I', t));
        continue when rel is null;
        execute format('grant select on %s to mfm_hospital', rel);
    end loop;
end
$rls$;
