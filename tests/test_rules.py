"""Audit rules R01-R16 and marts.fct_violations on a real warehouse.

One fresh database per module: reference snapshots and one day of HIS /
settlement rows are written into the staging tables by hand (as the loader
would: ledger row + load_id), then dbt builds stg -> catalogue ->
intermediate -> rules -> marts. The tests check the suspects that reach
fct_violations, the rule unit tests (`unit_tests:` in models/rules/*.yml),
stability of violation_id / detected_at across rebuilds, a corrected
re-delivery that removes one planted case and creates another, and that
thresholds / the enabled flag are data (ref.audit_rules), not SQL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import psycopg
import pytest

from ingestion.contract import KINDS, certno_check_digit
from ingestion.schema import ensure_schema
from pipeline.dbt_cli import run_dbt

H1 = "H33020300001"  # agreement active, hosp_lv 2
H2 = "H33020300002"  # agreement ended 2024-03-01
DOC = "D330203000001"  # physician of H1
DAY = date(2024, 3, 5)
SNAPSHOT = date(2024, 1, 1)
DBT_PRIVATE = ["--target-path", "target_test_rules", "--log-path", "target_test_rules/logs"]


def _certno(seed: str) -> str:
    first17 = ("33020319800101" + seed)[:17]
    return first17 + certno_check_digit(first17)


REFERENCE = {
    "ref_medins": [
        {"fixmedins_code": H1, "fixmedins_name": "一院", "fixmedins_type": "1", "hosp_lv": "2",
         "admdvs": "330203", "begn_date": date(2020, 1, 1), "end_date": None},
        {"fixmedins_code": H2, "fixmedins_name": "二院", "fixmedins_type": "1", "hosp_lv": "2",
         "admdvs": "330203", "begn_date": date(2020, 1, 1), "end_date": date(2024, 3, 1)},
    ],
    "ref_practitioner": [
        {"prac_codg": DOC, "prac_name": "张医生", "prac_type": "1", "fixmedins_code": H1,
         "dept_codg": "A01", "begn_date": date(2020, 1, 1), "end_date": None},
    ],
    "ref_psn": [
        {"psn_no": "P1", "certno": _certno("001"), "psn_name": "甲", "gend": "1", "brdy": date(1980, 1, 1),
         "insutype": "310", "psn_type": "1", "insu_admdvs": "330203", "death_date": None},
        {"psn_no": "P2", "certno": _certno("002"), "psn_name": "乙", "gend": "2", "brdy": date(1950, 1, 1),
         "insutype": "390", "psn_type": "1", "insu_admdvs": "330203", "death_date": date(2024, 3, 1)},
    ],
    "ref_med_list": [
        {"med_list_codg": "X0001", "med_list_name": "检查", "list_type": "201", "max_pric": Decimal("10")},
        {"med_list_codg": "X0002", "med_list_name": "治疗", "list_type": "201", "max_pric": None},
        {"med_list_codg": "D0001", "med_list_name": "药品", "list_type": "101", "max_pric": None},
    ],
    "ref_psn_special_dise": [],
    "ref_disease": [{"dise_codg": "J18.9", "dise_name": "肺炎", "chapter": "J"}],
}


def _visit(mdtrt_id: str, psn: str, inst: str) -> dict:
    return {"mdtrt_id": mdtrt_id, "psn_no": psn, "fixmedins_code": inst, "med_type": "11", "insutype": "310",
            "begntime": "2024-03-05 09:00:00", "endtime": "2024-03-05 09:30:00", "dept_codg": "A01",
            "atddr_no": DOC, "dise_codg": "J18.9", "ipt_otp_no": mdtrt_id}


def _fee(sn: str, mdtrt_id: str, psn: str, inst: str, item: str, list_type: str, cnt: str, pric: str,
         init: str | None = None, prd_days: int | None = None) -> dict:
    amount = (Decimal(cnt) * Decimal(pric)).quantize(Decimal("0.01"))
    return {"feedetl_sn": sn, "init_feedetl_sn": init, "mdtrt_id": mdtrt_id, "psn_no": psn,
            "fixmedins_code": inst, "med_type": "11", "fee_ocur_time": "2024-03-05 10:00:00",
            "med_list_codg": item, "list_type": list_type, "cnt": Decimal(cnt), "pric": Decimal(pric),
            "det_item_fee_sumamt": amount, "bilg_dept_codg": "A01", "bilg_dr_codg": DOC, "rxno": None,
            "prd_days": prd_days}


def _setl(setl_id: str, mdtrt_id: str, psn: str, inst: str, fund: str) -> dict:
    return {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": psn, "fixmedins_code": inst, "insutype": "310",
            "med_type": "11", "setl_time": "2024-03-05 11:00:00", "medfee_sumamt": Decimal(fund),
            "fund_pay_sumamt": Decimal(fund), "acct_pay": Decimal(0), "psn_cash_pay": Decimal(0),
            "refd_setl_flag": "0"}


DAILY = {
    "his_mdtrt": [_visit("M1", "P1", H1), _visit("M2", "P2", H1), _visit("M3", "P1", H2)],
    "his_diag": [],
    "his_feedetail": [
        _fee("F001", "M1", "P1", H1, "X0001", "201", "2", "12"),   # R09 4.00
        _fee("F002", "M1", "P1", H1, "X0001", "201", "2", "12"),   # R09 4.00 + R11 24.00
        _fee("F003", "M1", "P1", H1, "X0001", "201", "2", "12"),   # refunded in full below: gone
        _fee("F004", "M1", "P1", H1, "X0001", "201", "-2", "12", init="F003"),
        _fee("F001", "M2", "P2", H1, "D0001", "101", "1", "10", prd_days=3),  # after death: R14 10.00
        {**_fee("F001", "M3", "P1", H2, "X0002", "201", "1", "15"), "bilg_dr_codg": DOC},  # R16 15.00
    ],
    "pharmacy_sales": [],
    "setl": [_setl("S1", "M1", "P1", H1, "50.00"), _setl("S2", "M2", "P2", H1, "10.00"),
             _setl("S3", "M3", "P1", H2, "30.00")],  # M3: R15 30.00
}

EXPECTED = {
    ("R09", H1, "M1", "F001"): Decimal("4.00"),
    ("R09", H1, "M1", "F002"): Decimal("4.00"),
    ("R11", H1, "M1", "F002"): Decimal("24.00"),
    ("R14", H1, "M2", "F001"): Decimal("10.00"),
    ("R15", None, "M3", None): Decimal("30.00"),
    ("R16", H2, "M3", "F001"): Decimal("15.00"),
}


def _ledger(conn: psycopg.Connection, section: str, business_date: date, kind: str, rows: int) -> int:
    return conn.execute(
        "INSERT INTO meta.load_log (section, business_date, kind, rows_in_file, rows_loaded, status, finished_at)"
        " VALUES (%s, %s, %s, %s, %s, 'loaded', now()) RETURNING load_id",
        (section, business_date, kind, rows, rows),
    ).fetchone()[0]


def _write(conn: psycopg.Connection, kind_name: str, business_date: date, rows: list[dict]) -> None:
    """Replace one kind's delivery of one folder date, the way a (re-)delivery does."""
    kind = KINDS[kind_name]
    date_col = "business_date" if kind.section == "daily" else "snapshot_date"
    conn.execute(f"DELETE FROM {kind.table} WHERE {date_col} = %s", (business_date,))
    load_id = _ledger(conn, kind.section, business_date, kind_name, len(rows))
    cols = [date_col, *kind.columns, "source_file", "source_line", "load_id"]
    sql = f"INSERT INTO {kind.table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})"
    for i, row in enumerate(rows, start=2):
        values = [business_date, *(row.get(c) for c in kind.columns), f"{kind_name}.csv", i, load_id]
        conn.execute(sql, values)


def _dbt(url: str, *args: str) -> None:
    res = run_dbt([*args, *DBT_PRIVATE], warehouse_url=url)
    assert res.success, f"dbt {' '.join(args)} failed: {res.exception or res.result}"


def _build(url: str) -> None:
    # models only (upstream data tests belong to their own suites); rule tests run below
    _dbt(url, "seed", "--select", "audit_rules", "rule_threshold_overrides", "--full-refresh")
    _dbt(url, "run", "--select", "+fct_violations")


def _violations(url: str) -> dict[tuple, tuple]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT rule_code, fixmedins_code, mdtrt_id, feedetl_sn, amount, violation_id, detected_at,"
            " disposition, severity, evidence FROM marts.fct_violations"
        ).fetchall()
    out = {}
    for code, fx, mdtrt, sn, amount, vid, detected, disp, sev, evidence in rows:
        key = (code, None, mdtrt, None) if code in ("R12", "R13", "R15") else (code, fx, mdtrt, sn)
        out[key] = (amount, vid, detected, disp, sev, evidence)
    return out


@pytest.fixture(scope="module")
def warehouse(server_url: str) -> Iterator[str]:
    from warehouse.testing import create_database, drop_database

    url = create_database(server_url, "mfm_test_rules")
    with psycopg.connect(url, autocommit=True) as conn:
        ensure_schema(conn)
        for kind in KINDS.values():
            if kind.section == "daily":
                conn.execute(f"CREATE TABLE IF NOT EXISTS {kind.table}_default PARTITION OF {kind.table} DEFAULT")
        for name, rows in REFERENCE.items():
            _write(conn, name, SNAPSHOT, rows)
        for name, rows in DAILY.items():
            _write(conn, name, DAY, rows)
    _build(url)
    yield url
    drop_database(server_url, url)


def test_planted_suspects_reach_fct_violations(warehouse: str) -> None:
    found = _violations(warehouse)
    assert {k: v[0] for k, v in found.items()} == EXPECTED
    amount, vid, _, disp, sev, evidence = found[("R11", H1, "M1", "F002")]
    assert vid == hashlib.md5(f"R11|{H1}|M1|F002".encode()).hexdigest()
    assert (disp, sev) == ("hospital_review", "yellow")
    assert evidence["kept_feedetl_sn"] == "F001" and evidence["rule_version"] == "1.0.0"
    assert found[("R15", None, "M3", None)][1] == hashlib.md5(b"R15|M3").hexdigest()
    assert found[("R14", H1, "M2", "F001")][3:5] == ("deduct", "red")


def test_rule_unit_tests_and_mart_tests_pass(warehouse: str) -> None:
    # every rule's unit_tests (exact suspects and amounts, both sides of each
    # threshold) plus the data tests of the rules, seeds and fct_violations
    _dbt(warehouse, "test", "--select", "rules", "fct_violations", "audit_rules", "rule_threshold_overrides",
         "--indirect-selection", "cautious")


def test_rule_thresholds_and_enabled_flag_are_data(warehouse: str) -> None:
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute("UPDATE ref.audit_rules SET enabled = false WHERE code = 'R09'")
        conn.execute("UPDATE ref.audit_rules SET disposition = 'pending_review', severity = 'green'"
                     " WHERE code = 'R16'")
    try:
        _dbt(warehouse, "run", "--select", "rules", "fct_violations")
        found = _violations(warehouse)
        assert not [k for k in found if k[0] == "R09"]
        assert found[("R16", H2, "M3", "F001")][3:5] == ("pending_review", "green")
    finally:
        _dbt(warehouse, "seed", "--select", "audit_rules", "--full-refresh")
        _dbt(warehouse, "run", "--select", "rules", "fct_violations")
    assert {k: v[0] for k, v in _violations(warehouse).items()} == EXPECTED


@pytest.mark.slow
def test_rebuild_is_stable_and_a_correction_moves_suspects(warehouse: str) -> None:
    before = _violations(warehouse)
    _dbt(warehouse, "run", "--select", "rules", "fct_violations")
    again = _violations(warehouse)
    assert {k: v[:3] for k, v in again.items()} == {k: v[:3] for k, v in before.items()}

    # corrected re-delivery of the day's fee lines: the duplicate F002 is gone
    # (its R11 and R09 suspects must disappear), a new over-cap line appears
    corrected = [r for r in DAILY["his_feedetail"] if not (r["mdtrt_id"] == "M1" and r["feedetl_sn"] == "F002")]
    corrected.append(_fee("F005", "M1", "P1", H1, "X0001", "201", "1", "11"))
    with psycopg.connect(warehouse, autocommit=True) as conn:
        _write(conn, "his_feedetail", DAY, corrected)
    _dbt(warehouse, "run", "--select", "+fct_violations")
    after = _violations(warehouse)
    expected = {k: v for k, v in EXPECTED.items() if k[3] != "F002" or k[2] != "M1"}
    expected[("R09", H1, "M1", "F005")] = Decimal("1.00")
    assert {k: v[0] for k, v in after.items()} == expected
    # suspects that still hold keep their id and first detection time
    assert after[("R09", H1, "M1", "F001")][1:3] == before[("R09", H1, "M1", "F001")][1:3]
    assert after[("R09", H1, "M1", "F005")][2] > before[("R09", H1, "M1", "F001")][2]
