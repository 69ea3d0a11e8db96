"""Hospital exports (pipeline/exports.py) against real PostgreSQL: files, rows, masking, rule sheet, atomicity."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from pipeline import exports
from warehouse.config import REPO_ROOT

FCT_DDL = """
CREATE SCHEMA IF NOT EXISTS marts; CREATE SCHEMA IF NOT EXISTS ref;
CREATE TABLE marts.fct_violations (
  violation_id text, rule_code text, rule_version text, disposition text, severity text,
  business_date date, period_start date, fixmedins_code text, dept_codg text, prac_codg text,
  psn_no text, mdtrt_id text, feedetl_sn text, rxno text, amount numeric(16,2), evidence jsonb,
  detected_at timestamptz DEFAULT now());
CREATE TABLE ref.audit_rules (code text, name_zh text, name_en text, description text, grain text,
  threshold text, threshold_alt text, threshold_note text, disposition text, severity text,
  rule_version text, enabled text);
"""

ROWS = [
    # violation_id, rule, date, fixmedins, psn_no, mdtrt_id, feedetl_sn, rxno, amount, evidence
    ("v1", "R09", "2024-02-03", "H33020300001", "P330203000000123", "M1", "0000000001", None, "12.50",
     {"pric": 9, "max_pric": 6.5, "psn_no": "P330203000000123"}),
    ("v2", "R09", "2024-02-04", "H33020300001", "P330203000000124", "M2", "0000000002", None, "1.00", {}),
    ("v3", "R16", "2024-02-05", "H33020300001", "P330203000000125", "M3", "0000000003", None, "30.00", {}),
    ("v4", "R15", "2024-02-06", "P33020300009", "P330203000000126", "S9", None, None, "88.88", {}),
    ("v5", "R01", "2024-02-01", None, "P330203000000127", None, None, None, "500.00", {}),  # person-month
    ("v6", "R09", "2024-01-30", "H33020300001", "P330203000000128", "M0", "0000000009", None, "5.00", {}),
]


@pytest.fixture
def warehouse(make_db: Callable[[str], str]) -> str:
    url = make_db("mfm_exports")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(FCT_DDL)
        with conn.cursor() as cur, cur.copy("COPY ref.audit_rules FROM STDIN WITH (FORMAT csv, HEADER true)") as cp:
            cp.write((REPO_ROOT / "dbt_project/seeds/audit_rules.csv").read_bytes())
        for vid, rule, d, inst, psn, m, sn, rx, amt, ev in ROWS:
            conn.execute(
                "INSERT INTO marts.fct_violations (violation_id, rule_code, rule_version, disposition, severity,"
                " business_date, fixmedins_code, psn_no, mdtrt_id, feedetl_sn, rxno, amount, evidence)"
                " SELECT %s, %s, rule_version, disposition, severity, %s, %s, %s, %s, %s, %s, %s, %s"
                " FROM ref.audit_rules WHERE code = %s",
                (vid, rule, d, inst, psn, m, sn, rx, amt, json.dumps(ev), rule))
    return url


def test_mask_identifier() -> None:
    assert exports.mask_identifier("P330203000000123") == "P33***********23"
    assert exports.mask_identifier("abc") == "***"
    assert exports.mask_identifier(None) is None
    assert exports.mask_evidence({"psn_no": "P330203000000123", "x": [{"certno": "330203199001011234"}]}) == \
        {"psn_no": "P33***********23", "x": [{"certno": "330*************34"}]}


def test_export_period_writes_each_institution(warehouse: str, tmp_path: Path) -> None:
    with psycopg.connect(warehouse, autocommit=True) as conn:
        written = exports.export_period(conn, "2024-02", tmp_path)
    assert [(w.fixmedins_code, w.rows) for w in written] == [("H33020300001", 3), ("P33020300009", 1)]
    h = written[0]
    assert h.csv_path == tmp_path / "2024-02" / "H33020300001" / "suspects_H33020300001_2024-02.csv"
    assert h.amount == Decimal("43.50")
    rows = exports.read_csv_export(h.csv_path)
    assert [r["violation_id"] for r in rows] == ["v1", "v2", "v3"]  # January's v6 and person-level R01 absent
    assert rows[0]["rule_name_zh"] == "超限价" and rows[0]["rule_name_en"] == "price over cap"
    assert rows[0]["psn_no"] == "P33***********23"
    assert "P330203000000123" not in h.csv_path.read_text(encoding="utf-8-sig")
    assert json.loads(rows[0]["evidence"])["max_pric"] == 6.5

    from openpyxl import load_workbook

    wb = load_workbook(h.xlsx_path, read_only=True)
    assert wb.sheetnames[0].startswith("规则说明")
    sheet = [r for r in wb.worksheets[0].iter_rows(min_row=4, values_only=True) if r[0]]
    assert [(r[0], r[1], r[2], r[9]) for r in sheet] == [
        ("R09", "超限价", "price over cap", 2), ("R16", "非医保医师开单", "unregistered prescriber", 1)]
    data = list(wb.worksheets[1].iter_rows(min_row=2, values_only=True))
    assert len(data) == 3
    assert not any("P330203000000" in str(c) for r in data for c in r if c)
    assert not list(tmp_path.rglob("*.tmp"))


def test_rerun_removes_institutions_without_suspects(warehouse: str, tmp_path: Path) -> None:
    with psycopg.connect(warehouse, autocommit=True) as conn:
        exports.export_period(conn, "2024-02", tmp_path)
        conn.execute("DELETE FROM marts.fct_violations WHERE fixmedins_code = 'P33020300009'")
        written = exports.export_period(conn, "2024-02", tmp_path)
    assert [w.fixmedins_code for w in written] == ["H33020300001"]
    assert not (tmp_path / "2024-02" / "P33020300009").exists()
    assert sorted(p.name for p in (tmp_path / "2024-02").iterdir()) == ["H33020300001"]


def test_failed_write_keeps_previous_file(warehouse: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with psycopg.connect(warehouse, autocommit=True) as conn:
        first = exports.export_period(conn, "2024-02", tmp_path)
        before = first[0].xlsx_path.read_bytes()
        conn.execute("UPDATE marts.fct_violations SET amount = amount + 1")

        from openpyxl import Workbook

        def broken_save(self, filename):  # a full disk halfway through
            Path(filename).write_bytes(b"PK\x03\x04 half a zip")
            raise OSError("No space left on device")

        monkeypatch.setattr(Workbook, "save", broken_save)
        with pytest.raises(OSError):
            exports.export_period(conn, "2024-02", tmp_path)
    assert first[0].xlsx_path.read_bytes() == before
    assert not list(tmp_path.rglob("*.tmp"))


def test_period_helpers() -> None:
    from datetime import date

    assert exports.period_bounds("2024-12") == (date(2024, 12, 1), date(2025, 1, 1))
    assert exports.months_between(date(2023, 12, 31), date(2024, 2, 1)) == ["2023-12", "2024-01", "2024-02"]
    with pytest.raises(ValueError):
        exports.period_bounds("2024-2")


def test_unchanged_institutions_are_not_rewritten(warehouse: str, tmp_path: Path) -> None:
    with psycopg.connect(warehouse, autocommit=True) as conn:
        first = {w.fixmedins_code: w for w in exports.export_period(conn, "2024-02", tmp_path)}
        assert all(w.rewritten for w in first.values())
        mtimes = {c: (w.csv_path.stat().st_mtime_ns, w.xlsx_path.stat().st_mtime_ns) for c, w in first.items()}
        conn.execute("UPDATE marts.fct_violations SET amount = amount + 1 WHERE violation_id = 'v4'")
        second = {w.fixmedins_code: w for w in exports.export_period(conn, "2024-02", tmp_path)}
        # H33020300001's rows did not move: same files, same bytes; P33020300009's did
        assert not second["H33020300001"].rewritten and second["P33020300009"].rewritten
        h = second["H33020300001"]
        assert (h.csv_path.stat().st_mtime_ns, h.xlsx_path.stat().st_mtime_ns) == mtimes["H33020300001"]
        assert second["H33020300001"].rows == 3 and second["H33020300001"].amount == Decimal("43.50")
        assert exports.read_csv_export(second["P33020300009"].csv_path)[0]["amount"] == "89.88"
        # a missing file is rewritten although the rows did not move
        h.xlsx_path.unlink()
        third = {w.fixmedins_code: w for w in exports.export_period(conn, "2024-02", tmp_path)}
        assert third["H33020300001"].rewritten and h.xlsx_path.is_file()
        # a changed rule text changes the rule sheet: rewritten
        conn.execute("UPDATE ref.audit_rules SET description = description || ' (rev.)' WHERE code = 'R16'")
        fourth = {w.fixmedins_code: w for w in exports.export_period(conn, "2024-02", tmp_path)}
        assert fourth["H33020300001"].rewritten and not fourth["P33020300009"].rewritten
        # an institution that loses its suspects loses its fingerprint with its files
        conn.execute("DELETE FROM marts.fct_violations WHERE fixmedins_code = 'P33020300009'")
        exports.export_period(conn, "2024-02", tmp_path)
    assert not (tmp_path / "2024-02" / "P33020300009").exists()


def test_a_failed_rewrite_is_redone_even_when_the_rows_go_back(warehouse: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    with psycopg.connect(warehouse, autocommit=True) as conn:
        exports.export_period(conn, "2024-02", tmp_path)
        conn.execute("UPDATE marts.fct_violations SET amount = amount + 1 WHERE violation_id = 'v1'")

        def broken_xlsx(*args, **kwargs):
            raise OSError("No space left on device")

        with monkeypatch.context() as m:
            m.setattr(exports, "_write_xlsx", broken_xlsx)
            with pytest.raises(OSError):
                exports.export_period(conn, "2024-02", tmp_path)
        # the CSV already holds the new amount; the rows now go back to what the old fingerprint described
        conn.execute("UPDATE marts.fct_violations SET amount = amount - 1 WHERE violation_id = 'v1'")
        written = {w.fixmedins_code: w for w in exports.export_period(conn, "2024-02", tmp_path)}
    h = written["H33020300001"]
    assert h.rewritten
    assert exports.read_csv_export(h.csv_path)[0]["amount"] == "12.50"
