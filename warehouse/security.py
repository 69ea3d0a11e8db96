"""Database roles, grants and row-level security: `python -m warehouse.security apply`.

Runs warehouse/security.sql (idempotent) on the warehouse. The pipeline calls
`apply()` after every dbt build: dbt recreates tables, and although the marts
post-hook (dbt_project/macros/marts/marts_security.sql) already re-applies
row-level security, new tables and new institutions need their grants and roles.
See docs/security.md for the design.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from ingestion.contract import certno_is_valid
from warehouse.config import REPO_ROOT, settings

SQL_FILE = Path(__file__).with_name("security.sql")
MARTS_SECURITY_MACRO = REPO_ROOT / "dbt_project" / "macros" / "marts" / "marts_security.sql"

DBT_SCHEMAS = ("stg", "catalogue", "intermediate", "rules", "marts", "ref")
# marts tables a hospital role may read, row-level secured by fixmedins_code;
# the dbt post-hook reads the same list (tests/test_security.py checks they agree)
HOSPITAL_TABLES = (
    "fct_violations",
    "mart_hospital_violations",
    "mart_violation_counts",
    "mart_violation_summary",
    "mart_physician_scores",
    "mart_institution_monthly",
    "mart_department_monthly",
    "mart_physician_monthly",
)
HOSPITAL_VIEWS = ("mart_hospital_violations_by_rule",)
# columns of natural persons' identity, and raw copies of delivered rows, which
# only the loader and the transformer read (staging.ref_psn, meta.quarantine ...)
PERSONAL_COLUMNS = ("certno", "psn_name", "prac_name", "bilg_dr_name", "raw_row", "examples")
SERVICE_ROLES = ("mfm_loader", "mfm_transformer", "mfm_bi_readonly", "mfm_auditor")
HOSPITAL_GROUP = "mfm_hospital"

# concurrent runs in other databases of the same server race on the shared
# role catalogue ("tuple concurrently updated"): retry the whole transaction
_RETRYABLE = (psycopg.errors.InternalError_, psycopg.errors.UniqueViolation,
              psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)


def hospital_role_name(fixmedins_code: str) -> str:
    return "hosp_" + fixmedins_code.strip().lower()


def demo_login_name(fixmedins_code: str) -> str:
    return hospital_role_name(fixmedins_code) + "_demo"


@dataclass(frozen=True)
class ApplyResult:
    hospital_roles: int
    rls_tables: tuple[str, ...]
    demo_logins: tuple[str, ...]


def _apply_once(conn: psycopg.Connection, demo_codes: Sequence[str], demo_password: str | None) -> ApplyResult:
    with conn.transaction():
        for name, value in (
            ("mfm.hospital_tables", ",".join(HOSPITAL_TABLES)),
            ("mfm.hospital_views", ",".join(HOSPITAL_VIEWS)),
            ("mfm.personal_columns", ",".join(PERSONAL_COLUMNS)),
            ("mfm.dbt_schemas", ",".join(DBT_SCHEMAS)),
        ):
            conn.execute("select set_config(%s, %s, true)", (name, value))
        conn.execute(SQL_FILE.read_text(encoding="utf-8"))
        for role, password in settings().db_role_passwords.items():
            conn.execute(sql.SQL("alter role {} password {}").format(sql.Identifier(role), sql.Literal(password)))
        logins = []
        for code in demo_codes:
            logins.append(_ensure_demo_login(conn, code, demo_password))
        n_roles = conn.execute("select count(*) from security.hospital_roles").fetchone()[0]
        rls = conn.execute(
            "select c.relname from pg_class c where c.relnamespace = to_regnamespace('marts') "
            "and c.relrowsecurity order by 1"
        ).fetchall()
    return ApplyResult(n_roles, tuple(r[0] for r in rls), tuple(logins))


def _ensure_demo_login(conn: psycopg.Connection, code: str, password: str | None) -> str:
    """A LOGIN role for demos and tests, member of the institution's NOLOGIN role."""
    group = hospital_role_name(code)
    login = demo_login_name(code)
    if conn.execute("select 1 from pg_roles where rolname = %s", (group,)).fetchone() is None:
        raise ValueError(f"no hospital role {group}: {code} is not in catalogue.dim_institution")
    if conn.execute("select 1 from pg_roles where rolname = %s", (login,)).fetchone() is None:
        with conn.transaction():  # savepoint: another database may create it first
            try:
                conn.execute(sql.SQL("create role {} login nosuperuser nocreatedb nocreaterole inherit")
                             .format(sql.Identifier(login)))
            except (psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
                pass
    conn.execute(sql.SQL("grant {} to {}").format(sql.Identifier(group), sql.Identifier(login)))
    if password:
        conn.execute(sql.SQL("alter role {} password {}").format(sql.Identifier(login), sql.Literal(password)))
    return login


def apply(warehouse_url: str, demo_codes: Iterable[str] = (), demo_password: str | None = None,
          attempts: int = 6) -> ApplyResult:
    """Create/refresh roles, grants and policies. Idempotent; safe to run after every dbt build."""
    codes = [c.strip().upper() for c in demo_codes if c.strip()]
    for attempt in range(1, attempts + 1):
        try:
            with psycopg.connect(warehouse_url, autocommit=True) as conn:
                return _apply_once(conn, codes, demo_password or settings().hospital_demo_password)
        except _RETRYABLE:
            if attempt == attempts:
                raise
            time.sleep(0.2 * attempt)
    raise AssertionError("unreachable")


def macro_hospital_models(path: Path = MARTS_SECURITY_MACRO) -> tuple[str, ...]:
    """The hospital-facing model list of the dbt post-hook macro (must equal HOSPITAL_TABLES)."""
    text = path.read_text(encoding="utf-8")
    block = re.search(r"var\('hospital_rls_models', \[(.*?)\]\)", text, re.S)
    if block is None:
        raise ValueError(f"hospital_rls_models list not found in {path}")
    return tuple(re.findall(r"'([a-z0-9_]+)'", block.group(1)))


# --- personal data scan -------------------------------------------------------

# an 18-character resident ID: 6-digit region, birth date 19xx/20xx, 3 digits, check character
CERTNO_PATTERN = r"(^|[^0-9])[1-9][0-9]{5}(19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]([^0-9]|$)"


_CERTNO_RE = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")


def personal_data_findings(conn: psycopg.Connection, schemas: Sequence[str] = ("marts",),
                           limit_per_column: int = 20) -> list[tuple[str, str, str]]:
    """(relation, column, sample) of every value that looks like an unmasked certno or equals a real
    person's name from staging: scans every column (cast to text) of every table and view."""
    cols = conn.execute(
        "select c.table_schema, c.table_name, c.column_name from information_schema.columns c "
        "where c.table_schema = any(%s) order by 1, 2, c.ordinal_position",
        (list(schemas),),
    ).fetchall()
    # real values as staging holds them: certno anywhere in a value; a name as the whole value or a JSON string
    sources = [(rel, col) for rel, col in (("staging.ref_psn", "certno"), ("staging.ref_psn", "psn_name"),
                                           ("staging.ref_practitioner", "prac_name"))
               if conn.execute("select to_regclass(%s) is not null", (rel,)).fetchone()[0]]
    findings: list[tuple[str, str, str]] = []
    for schema, table, column in cols:
        # qualified: inside the staging sub-selects an unqualified name (certno) would mean staging's column
        value = sql.SQL("cast(t.{} as text)").format(sql.Identifier(column))
        rel = sql.Identifier(schema, table)
        checks = [sql.SQL("{v} ~ {p}").format(v=value, p=sql.Literal(CERTNO_PATTERN))]
        for src_rel, src_col in sources:
            s_rel, s_col = sql.Identifier(*src_rel.split(".")), sql.Identifier(src_col)
            if src_col == "certno":
                cond = "length(s.{c}) >= 15 and strpos({v}, s.{c}) > 0"
            else:
                cond = "length(s.{c}) >= 2 and ({v} = s.{c} or strpos({v}, '\"' || s.{c} || '\"') > 0)"
            checks.append(sql.SQL("exists (select 1 from {r} s where " + cond + ")").format(
                r=s_rel, c=s_col, v=value))
        query = sql.SQL("select {v}, {real} from {rel} as t where {cond} limit {n}").format(
            v=value, rel=rel, cond=sql.SQL(" or ").join(checks), n=sql.Literal(limit_per_column),
            real=sql.SQL(" or ").join(checks[1:]) if len(checks) > 1 else sql.SQL("false"))
        for sample, is_real in conn.execute(query).fetchall():
            # a shape match alone counts when its GB 11643 check character is right too
            if is_real or any(certno_is_valid(m.group(0)) for m in _CERTNO_RE.finditer(str(sample))):
                findings.append((f"{schema}.{table}", column, str(sample)[:80]))
    return findings


def main(argv: Sequence[str] | None = None) -> int:
    from warehouse.embedded import resolve_warehouse_url

    parser = argparse.ArgumentParser(prog="python -m warehouse.security", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ap = sub.add_parser("apply", help="create/refresh roles, grants and row-level security (idempotent)")
    ap.add_argument("--demo-login", action="append", default=[], metavar="FIXMEDINS_CODE",
                    help="also create the LOGIN role hosp_<code>_demo (password: MFM_HOSPITAL_DEMO_PASSWORD)")
    sc = sub.add_parser("scan", help="report unmasked certno / names in the given schemas (exit 1 if any)")
    sc.add_argument("schemas", nargs="*", default=["marts"])
    args = parser.parse_args(argv)
    url = resolve_warehouse_url()
    if args.command == "apply":
        res = apply(url, args.demo_login)
        print(f"hospital roles: {res.hospital_roles}; row-level security on: {', '.join(res.rls_tables) or '-'}"
              + (f"; demo logins: {', '.join(res.demo_logins)}" if res.demo_logins else ""))
        return 0
    with psycopg.connect(url) as conn:
        found = personal_data_findings(conn, args.schemas)
    for rel, col, sample in found:
        print(f"{rel}.{col}: {sample}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
