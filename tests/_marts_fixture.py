"""A warehouse with hand-written upstream rows and the monitoring marts built on them by real dbt.

Shared by tests/test_marts.py and tests/test_security.py (built once per session,
dropped at exit). The upstream tables (intermediate, catalogue, fct_violations)
are created here with the interface columns of docs/architecture.md and
audit-rules.md, so these tests exercise the marts alone, whatever state the
upstream models are in; the figures asserted are computed by hand in
docs/marts.md ("Test data").
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import psycopg

from ingestion.contract import certno_check_digit

MART_MODELS = (
    "fct_visits", "fct_violations_enriched", "mart_indicator_monthly", "mart_indicator_trends",
    "mart_institution_monthly", "mart_department_monthly", "mart_physician_monthly", "mart_disease_monthly",
    "mart_person_monthly", "mart_region_monthly", "mart_level_monthly", "mart_insutype_monthly",
    "mart_fund_overview_monthly", "mart_daily_current_month", "mart_rankings", "mart_rankings_top10",
    "mart_peer_distribution", "mart_peer_comparison", "mart_physician_scores", "mart_hospital_violations",
    "mart_hospital_violations_by_rule", "mart_violation_summary", "mart_rankings_pivot", "mart_violation_counts",
)
SEEDS = ("audit_rules", "physician_score_points")
H1, H2, H3, P1 = "H33020300001", "H33020300002", "H33020400001", "P33020300001"
DOC1, DOC2, DOC3 = "D330203000001", "D330203000002", "D330203000003"


def real_certno(first17: str) -> str:
    return first17 + certno_check_digit(first17)


# persons: psn_no -> (real certno, real name) as staging holds them
PERSONS = {
    "P001": (real_certno("33020319800101123"), "张三丰"),
    "P002": (real_certno("33020319751212456"), "李四"),
    "P003": (real_certno("33020420000229789"), "王小五"),
    "P004": (real_certno("33020319601031321"), "赵六"),
}


def _mask_certno(c: str) -> str:
    return c[:6] + "*" * (len(c) - 10) + c[-4:]


def _mask_name(n: str) -> str:
    return n[0] + "*" * (len(n) - 1)


UPSTREAM_DDL = """
create schema if not exists intermediate;
create schema if not exists catalogue;
create schema if not exists marts;
create table intermediate.int_visits (
    mdtrt_id text primary key, visit_source text, business_date date, fixmedins_code text, psn_no text,
    med_type text, insutype text, begin_time timestamp, end_time timestamp, visit_date date, discharge_date date,
    dept_codg text, prac_codg text, main_dise_codg text, diag_codes text[], fund_amount numeric(16,2),
    medfee_amount numeric(16,2), is_cancelled boolean);
create table intermediate.int_fee_lines (
    line_source text, business_date date, fixmedins_code text, mdtrt_id text, feedetl_sn text, psn_no text,
    med_type text, fee_time timestamp, fee_date date, med_list_codg text, list_type text, cnt numeric(16,4),
    pric numeric(18,6), amount numeric(16,2), dept_codg text, prac_codg text, rxno text, prd_days integer,
    hosp_appr_flag text);
create table catalogue.dim_institution (
    fixmedins_code text, fixmedins_name text, fixmedins_type text, hosp_lv text, admdvs text,
    begn_date date, end_date date, valid_from date, valid_to date);
create table catalogue.dim_person (
    psn_no text, certno text, psn_name text, gend text, brdy date, insutype text, insu_admdvs text,
    death_date date, latest_death_date date, valid_from date, valid_to date);
create table marts.fct_violations (
    violation_id text, rule_code text, rule_version text, disposition text, severity text, business_date date,
    period_start date, fixmedins_code text, dept_codg text, prac_codg text, psn_no text, mdtrt_id text,
    feedetl_sn text, rxno text, amount numeric(16,2), evidence jsonb, detected_at timestamptz);
"""

INSTITUTIONS = [
    (H1, "甲医院", "1", "3", "330203"),
    (H2, "乙医院", "1", "3", "330203"),
    (H3, "丙医院", "1", "2", "330204"),
    (P1, "丁药店", "2", "9", "330203"),
]

# mdtrt_id, institution, person, med_type, dept, physician, diagnosis, visit_date, discharge_date, fee, fund, cancelled
VISITS = [
    ("V01", H1, "P001", "11", "D01", DOC1, "J18.9", "2024-01-05", None, 100, 60, False),
    ("V02", H1, "P001", "11", "D01", DOC1, "J20.1", "2024-01-10", None, 200, 120, False),
    ("V03", H1, "P002", "21", "D02", DOC2, "I10", "2024-01-03", "2024-01-08", 5000, 4000, False),
    ("V04", H2, "P003", "11", "D01", DOC3, "J18.0", "2024-01-07", None, 300, 150, False),
    ("V05", H2, "P003", "11", "D01", DOC3, "J18.0", "2024-01-08", None, 999, 0, True),
    ("V06", H1, "P001", "11", "D01", DOC1, "J18.9", "2024-02-02", None, 150, 90, False),
    ("V07", H1, "P002", "21", "D02", DOC2, "I10", "2024-01-30", "2024-02-04", 6000, 4500, False),
    ("V08", H3, "P004", "11", "D05", None, "K29.7", "2024-02-10", None, 400, 200, False),
    ("V09", P1, "P004", "41", None, None, None, "2024-02-11", None, 80, 40, False),
    ("V10", H1, "P001", "11", "D01", DOC1, "J18.9", "2025-01-15", None, 250, 100, False),
]

# mdtrt_id, feedetl_sn, list_type, amount
FEE_LINES = [
    ("V01", "F0001", "101", 60), ("V01", "F0002", "201", 40),
    ("V02", "F0003", "102", 50), ("V02", "F0004", "201", 150),
    ("V03", "F0005", "101", 2000), ("V03", "F0006", "301", 3000),
]

# violation_id, rule, disposition, severity, business_date, period_start, institution, dept, physician,
# person, visit, feedetl_sn, amount, evidence
VIOLATIONS = [
    ("X1", "R04", "hospital_review", "yellow", "2024-01-05", None, H1, "D01", DOC1, "P001", "V01", "F0001", 30,
     '{"prd_days": 14, "limit_days": 7, "rule_version": "1.0.0"}'),
    ("X2", "R09", "deduct", "red", "2024-01-10", None, H1, "D01", DOC1, "P001", "V02", "F0003", 20,
     '{"pric": 12.5, "max_pric": 10}'),
    ("X3", "R14", "deduct", "red", "2024-01-07", None, H2, "D01", DOC3, "P003", "V04", None, 300,
     '{"death_date": "2023-12-31"}'),
    ("X4", "R01", "pending_review", "green", "2024-01-10", "2024-01-01", None, None, None, "P001", None, None, 60,
     '{"visits": 6, "threshold": 5}'),
    ("X5", "R13", "pending_review", "green", "2024-02-10", None, H3, "D05", None, "P004", "V08", None, 200,
     '{"stay_mdtrt_id": "V07"}'),
]


def insert_upstream(conn: psycopg.Connection) -> None:
    conn.execute(UPSTREAM_DDL)
    for code, name, typ, lv, adm in INSTITUTIONS:
        conn.execute(
            "insert into catalogue.dim_institution values (%s,%s,%s,%s,%s,'2020-01-01',null,'2023-01-01',null)",
            (code, name, typ, lv, adm))
    for psn, (certno, name) in PERSONS.items():
        conn.execute(
            "insert into catalogue.dim_person (psn_no, certno, psn_name, gend, brdy, insutype, valid_from)"
            " values (%s,%s,%s,'1','1980-01-01','310','2023-01-01')",
            (psn, _mask_certno(certno), _mask_name(name)))
        # staging keeps the real values: the personal-data scan looks for them in marts
        conn.execute(
            "insert into staging.ref_psn (psn_no, certno, psn_name, gend, brdy, insutype, snapshot_date,"
            " source_file, source_line, load_id) values (%s,%s,%s,'1','1980-01-01','310','2023-01-01',"
            " 'ref_psn.csv', 1, 0)", (psn, certno, name))
    for (mid, inst, psn, med, dept, prac, dise, vdate, ddate, fee, fund, cancelled) in VISITS:
        conn.execute(
            "insert into intermediate.int_visits (mdtrt_id, visit_source, business_date, fixmedins_code, psn_no,"
            " med_type, insutype, visit_date, discharge_date, dept_codg, prac_codg, main_dise_codg, fund_amount,"
            " medfee_amount, is_cancelled) values (%s,%s,%s,%s,%s,%s,'310',%s,%s,%s,%s,%s,%s,%s,%s)",
            (mid, "pharmacy" if med == "41" else "his", ddate or vdate, inst, psn, med, vdate, ddate, dept, prac,
             dise, fund, fee, cancelled))
    visit_inst = {v[0]: v[1] for v in VISITS}
    for mid, sn, lt, amount in FEE_LINES:
        conn.execute(
            "insert into intermediate.int_fee_lines (line_source, fixmedins_code, mdtrt_id, feedetl_sn, list_type,"
            " amount) values ('his',%s,%s,%s,%s,%s)", (visit_inst[mid], mid, sn, lt, amount))
    for (vid, rule, disp, sev, bdate, pstart, inst, dept, prac, psn, mid, sn, amount, ev) in VIOLATIONS:
        conn.execute(
            "insert into marts.fct_violations values (%s,%s,'1.0.0',%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,null,%s,%s,now())",
            (vid, rule, disp, sev, bdate, pstart, inst, dept, prac, psn, mid, sn, amount, ev))


def dbt_args(target_dir: Path) -> list[str]:
    return ["--target-path", str(target_dir), "--log-path", str(target_dir / "logs")]


def build_marts(url: str, target_dir: Path, models: tuple[str, ...] = MART_MODELS,
                with_seeds: bool = True) -> None:
    from pipeline.dbt_cli import run_dbt

    select = list(models) + (list(SEEDS) if with_seeds else [])
    res = run_dbt(["build", "--select", *select, "--indirect-selection", "cautious", *dbt_args(target_dir)], url)
    if not res.success:
        failures = [f"{r.node.unique_id}: {r.status} {r.message}" for r in (res.result or [])
                    if str(r.status) not in ("success", "pass")]
        raise AssertionError("dbt build failed:\n" + "\n".join(failures or [str(res.exception)]))


_BUILT: dict[str, str] = {}
_TARGET: list[Path] = []


def target_dir() -> Path:
    """A private dbt target/log directory for this test session (removed at exit)."""
    if not _TARGET:
        path = Path(tempfile.mkdtemp(prefix="dbt_marts_"))
        atexit.register(shutil.rmtree, path, True)
        _TARGET.append(path)
    return _TARGET[0]


def marts_database(server_url: str) -> str:
    """URL of the session's marts database (built on first use, dropped at exit)."""
    if server_url in _BUILT:
        return _BUILT[server_url]
    from ingestion.schema import ensure_schema
    from warehouse.testing import create_database, drop_database

    url = create_database(server_url, "mfm_test_marts")
    if not os.environ.get("KEEP_TEST_DBS"):
        atexit.register(drop_database, server_url, url)
    with psycopg.connect(url) as conn:
        ensure_schema(conn)
        insert_upstream(conn)
        conn.commit()
    build_marts(url, target_dir())
    _BUILT[server_url] = url
    return url
