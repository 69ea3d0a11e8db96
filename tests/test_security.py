"""Roles, grants and row-level security in PostgreSQL itself (warehouse/security.sql).

Runs `warehouse.security.apply` on the marts database of tests/_marts_fixture.py
and then acts as each role, by SET ROLE and by logging in, trying to read other
institutions' rows directly and through views, to write, and to read personal data.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlparse, urlunparse

import psycopg
import pytest
from _marts_fixture import H1, H2, H3, PERSONS, build_marts, marts_database, target_dir

from warehouse import security

pytestmark = pytest.mark.slow
HOSPITAL_TABLES = ("fct_violations", "mart_hospital_violations", "mart_violation_counts", "mart_violation_summary",
                   "mart_institution_monthly")


@pytest.fixture(scope="module")
def url(server_url: str) -> str:
    db = marts_database(server_url)
    security.apply(db, demo_codes=[H1])
    return db


@pytest.fixture
def conn(url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(url, autocommit=True) as c:
        yield c


def as_role(conn: psycopg.Connection, role: str, query: str, params: tuple = ()) -> list[tuple]:
    """Run query as role (SET ROLE drops the superuser's rights) and come back."""
    with conn.transaction():
        conn.execute(f'set local role "{role}"')
        rows = conn.execute(query, params).fetchall()
    return rows


def denied(conn: psycopg.Connection, role: str, statement: str) -> bool:
    try:
        with conn.transaction():
            conn.execute(f'set local role "{role}"')
            conn.execute(statement)
    except psycopg.errors.InsufficientPrivilege:
        return True
    return False


def codes_seen(conn: psycopg.Connection, role: str, relation: str, where: str = "true") -> set[str | None]:
    return {r[0] for r in as_role(conn, role, f"select fixmedins_code from {relation} where {where}")}


def test_post_hook_and_security_agree_on_hospital_tables() -> None:
    assert security.macro_hospital_models() == security.HOSPITAL_TABLES


def test_apply_is_idempotent(url: str, conn: psycopg.Connection) -> None:
    snapshot = """
        select c.oid::regclass::text, c.relowner::regrole::text, coalesce(c.relacl::text, ''), c.relrowsecurity,
               coalesce(c.reloptions::text, ''),
               (select string_agg(p.polname || ':' || pg_get_expr(p.polqual, p.polrelid), ',')
                  from pg_policy p where p.polrelid = c.oid)
        from pg_class c where c.relnamespace in ('marts'::regnamespace, 'staging'::regnamespace,
                                                 'security'::regnamespace)
        order by 1"""
    before = conn.execute(snapshot).fetchall()
    res = security.apply(url, demo_codes=[H1])
    assert conn.execute(snapshot).fetchall() == before
    assert res.hospital_roles == 4
    assert set(security.HOSPITAL_TABLES) <= set(res.rls_tables)
    roles = {r[0] for r in conn.execute("select rolname from pg_roles where rolname like 'mfm%%' or rolname like 'hosp%%'")}
    assert {"mfm_loader", "mfm_transformer", "mfm_bi_readonly", "mfm_auditor", "mfm_hospital",
            security.hospital_role_name(H1), security.hospital_role_name(H2), security.demo_login_name(H1)} <= roles


def test_hospital_role_sees_only_its_rows(conn: psycopg.Connection) -> None:
    h1 = security.hospital_role_name(H1)
    for table in HOSPITAL_TABLES:
        assert codes_seen(conn, h1, f"marts.{table}") == {H1}, table
        # asking for another institution, or for everything, changes nothing
        assert codes_seen(conn, h1, f"marts.{table}", f"fixmedins_code = '{H2}'") == set(), table
        assert codes_seen(conn, h1, f"marts.{table}", "fixmedins_code is null or true") == {H1}, table
    assert as_role(conn, h1, "select count(*) from marts.mart_hospital_violations") == [(2,)]
    assert as_role(conn, h1, "select sum(suspect_count) from marts.mart_violation_counts") == [(2,)]
    # the session variable that narrows other roles does not widen a hospital's view
    with conn.transaction():
        conn.execute(f"select set_config('medwatch.fixmedins_code', '{H2}', true)")
        assert codes_seen(conn, h1, "marts.fct_violations") == {H1}
    # H3's role sees only H3; person-period suspects (no institution) nobody but auditors
    assert codes_seen(conn, security.hospital_role_name(H3), "marts.mart_hospital_violations") == {H3}


def test_views_do_not_bypass_row_security(conn: psycopg.Connection, url: str) -> None:
    h1 = security.hospital_role_name(H1)
    assert codes_seen(conn, h1, "marts.mart_hospital_violations_by_rule") == {H1}
    # a view someone adds later, owned by a superuser, over fct_violations
    conn.execute("create or replace view marts.zz_test_all_violations as select * from marts.fct_violations")
    try:
        security.apply(url)
        conn.execute("grant select on marts.zz_test_all_violations to mfm_hospital")
        assert codes_seen(conn, h1, "marts.zz_test_all_violations") == {H1}
        # and a view in another schema over a row-secured table
        conn.execute("create or replace view intermediate.zz_test_v as select * from marts.mart_violation_summary")
        security.apply(url)
        opts = conn.execute("select reloptions from pg_class where oid = 'intermediate.zz_test_v'::regclass").fetchone()
        assert opts[0] == ["security_invoker=true"]
    finally:
        conn.execute("drop view if exists marts.zz_test_all_violations")
        conn.execute("drop view if exists intermediate.zz_test_v")


def test_hospital_cannot_read_other_marts_or_layers(conn: psycopg.Connection) -> None:
    h1 = security.hospital_role_name(H1)
    for relation in ("marts.mart_rankings", "marts.mart_rankings_pivot", "marts.fct_visits", "intermediate.int_visits",
                     "staging.ref_psn"):
        assert denied(conn, h1, f"select 1 from {relation} limit 1"), relation


def test_demo_login_connects_and_is_restricted(url: str) -> None:
    u = urlparse(url)
    login_url = urlunparse(u._replace(netloc=f"{security.demo_login_name(H1)}@{u.hostname}:{u.port or 5432}"))
    with psycopg.connect(login_url) as c:
        rows = c.execute("select distinct fixmedins_code from marts.mart_hospital_violations").fetchall()
        assert rows == [(H1,)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute("delete from marts.mart_hospital_violations")


def test_bi_role_reads_all_marts_and_narrows_by_setting(conn: psycopg.Connection) -> None:
    bi = "mfm_bi_readonly"
    assert codes_seen(conn, bi, "marts.mart_hospital_violations") == {H1, H2, H3, None}
    assert codes_seen(conn, bi, "marts.mart_violation_counts") == {H1, H2, H3, None}
    assert as_role(conn, bi, "select count(*) > 0 from marts.mart_rankings") == [(True,)]
    assert as_role(conn, bi, "select count(*) > 0 from marts.mart_rankings_pivot") == [(True,)]
    # how Superset's hospital users are restricted in PostgreSQL (docs/security.md)
    with conn.transaction():
        conn.execute(f"select set_config('medwatch.fixmedins_code', '{H2}', true)")
        assert codes_seen(conn, bi, "marts.mart_hospital_violations") == {H2}
        assert codes_seen(conn, bi, "marts.mart_hospital_violations_by_rule") == {H2}
        assert codes_seen(conn, bi, "marts.mart_violation_counts") == {H2}
    assert denied(conn, bi, "select 1 from intermediate.int_visits limit 1")
    assert denied(conn, bi, "select 1 from staging.ref_psn limit 1")


def test_auditor_reads_all_but_personal_data(conn: psycopg.Connection) -> None:
    auditor = "mfm_auditor"
    assert codes_seen(conn, auditor, "marts.fct_violations") == {H1, H2, H3, None}
    assert as_role(conn, auditor, "select count(*) from intermediate.int_visits") == [(10,)]
    assert as_role(conn, auditor, "select count(*) from staging.ref_psn where psn_no is not null") == [(4,)]
    for statement in ("select certno from staging.ref_psn", "select psn_name from staging.ref_psn",
                      "select * from staging.ref_psn", "select raw_row from meta.quarantine",
                      "select bilg_dr_name from staging.his_feedetail"):
        assert denied(conn, auditor, statement), statement


@pytest.mark.parametrize("role", ["mfm_bi_readonly", "mfm_auditor", "hosp_" + H1.lower()])
def test_readers_cannot_write(conn: psycopg.Connection, role: str) -> None:
    for statement in (
        "insert into marts.mart_hospital_violations (violation_id) values ('x')",
        "update marts.fct_violations set amount = 0",
        "delete from marts.mart_violation_summary",
        "truncate marts.mart_institution_monthly",
        "create table marts.zz_test_t (a int)",
        "create table public.zz_test_t (a int)",
        "create temporary table zz_test_t (a int)",
        "insert into staging.ref_psn (psn_no) values ('x')",
    ):
        assert denied(conn, role, statement), (role, statement)


def test_loader_and_transformer_write_their_layers(conn: psycopg.Connection) -> None:
    with conn.transaction(force_rollback=True):
        conn.execute("set local role mfm_loader")
        conn.execute("insert into meta.load_log (section, business_date, kind, status) values"
                     " ('daily', '2024-01-01', 'setl', 'loaded')")
        conn.execute("create table staging.zz_test_t (a int)")
    with conn.transaction(force_rollback=True):
        conn.execute("set local role mfm_transformer")
        conn.execute("create table marts.zz_test_t as select * from staging.his_mdtrt")
        conn.execute("delete from marts.mart_rankings")
    assert denied(conn, "mfm_transformer", "insert into staging.ref_psn (psn_no) values ('x')")


def test_no_unmasked_personal_data_in_marts(conn: psycopg.Connection) -> None:
    assert security.personal_data_findings(conn, ["marts"]) == []
    # the scan can fail: a real certno or name written into a marts table is found
    certno, name = PERSONS["P002"]
    conn.execute("create table marts.zz_test_leak (note text, j jsonb)")
    try:
        conn.execute("insert into marts.zz_test_leak values (%s, %s)",
                     (f"id {certno}", f'{{"who": "{name}"}}'))
        conn.execute("insert into marts.zz_test_leak values (%s, null)", (name,))
        found = {(rel, col) for rel, col, _ in security.personal_data_findings(conn, ["marts"])}
        assert found == {("marts.zz_test_leak", "note"), ("marts.zz_test_leak", "j")}
    finally:
        conn.execute("drop table marts.zz_test_leak")


def test_row_security_survives_a_rebuild(url: str, conn: psycopg.Connection) -> None:
    """dbt replaces the tables: the post-hook re-applies RLS and grants without warehouse.security."""
    h1 = security.hospital_role_name(H1)
    oid_before = conn.execute("select 'marts.mart_hospital_violations'::regclass::oid").fetchone()[0]
    build_marts(url, target_dir(), models=("mart_hospital_violations", "mart_hospital_violations_by_rule",
                                           "mart_violation_summary", "mart_violation_counts"), with_seeds=False)
    oid_after = conn.execute("select 'marts.mart_hospital_violations'::regclass::oid").fetchone()[0]
    assert oid_after != oid_before  # really a new table
    for table in ("mart_hospital_violations", "mart_hospital_violations_by_rule", "mart_violation_summary",
                  "mart_violation_counts"):
        assert codes_seen(conn, h1, f"marts.{table}") == {H1}, table
    assert codes_seen(conn, "mfm_bi_readonly", "marts.mart_hospital_violations") == {H1, H2, H3, None}
