"""Great Expectations on arrival (issue 3): critical failures refuse the kind, warnings are recorded."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import psycopg

from ingestion import load_folder
from ingestion.contract import KINDS
from ingestion.fixtures import fee_line, settlement, visit, write_delivery
from ingestion.gx_suites import EXPECTATIONS_DIR, build_suite, suite_name
from ingestion.gx_validation import volume_band
from warehouse.config import settings

D1 = date(2024, 3, 1)


def q(url: str, sql: str, params=()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def test_versioned_suites_match_the_code_and_mark_every_expectation() -> None:
    for kind in KINDS.values():
        path = EXPECTATIONS_DIR / "gx" / "expectations" / f"{suite_name(kind)}.json"
        stored = json.loads(path.read_text())
        want = build_suite(kind).to_json_dict()
        strip = [(e["type"], json.dumps(e["kwargs"], sort_keys=True), e["meta"]["check"], e["meta"]["severity"])
                 for e in stored["expectations"]]
        assert strip == [(e["type"], json.dumps(e["kwargs"], sort_keys=True), e["meta"]["check"],
                          e["meta"]["severity"]) for e in want["expectations"]], (
            f"{path} is stale: run python -m ingestion.gx_suites")
        assert {e["meta"]["severity"] for e in stored["expectations"]} <= {"critical", "warning"}


def test_critical_failure_refuses_the_kind_naming_expectation_and_examples(tmp_path: Path, db_url: str) -> None:
    lines = [fee_line("F1"), fee_line("F2", cnt="2", pric="10", amt="25.00"), fee_line("F3")]
    write_delivery(tmp_path, "daily", D1, {
        "his_feedetail.csv": lines,
        "setl.csv": [settlement("S1")],
    })
    res = {r.kind: r for r in load_folder(tmp_path, "daily", D1, conn_url=db_url)}
    fee = res["his_feedetail"]
    assert fee.status == "rejected"
    assert fee.error.startswith("critical expectation failed: amount_is_cnt_x_pric failed: 1 unexpected;"
                                " e.g. [{'file': 'his_feedetail.csv', 'line': '3',")
    assert "'feedetl_sn': 'F2'" in fee.error and "'det_item_fee_sumamt': '25.00'" in fee.error
    assert res["setl"].status == "loaded"
    assert q(db_url, "SELECT count(*) FROM staging.his_feedetail") == [(0,)]  # nothing published
    assert q(db_url, "SELECT count(*) FROM meta.quarantine") == [(0,)]
    failed = q(db_url, "SELECT expectation, severity, unexpected_count, examples FROM meta.validation_results"
                       " WHERE kind = 'his_feedetail' AND NOT success")
    assert [(f[0], f[1], f[2]) for f in failed] == [("amount_is_cnt_x_pric", "critical", 1)]
    assert failed[0][3][0]["feedetl_sn"] == "F2"
    assert q(db_url, "SELECT status FROM meta.load_log WHERE kind = 'his_feedetail' AND file_name IS NULL") == [
        ("rejected",)]
    assert (settings().data_docs_dir / "index.html").is_file()


def test_warnings_are_recorded_and_the_kind_loads(tmp_path: Path, db_url: str) -> None:
    # an outpatient line dated the day before its folder: possible (late export), worth a look
    lines = [fee_line("F1"), fee_line("F2", day="2024-02-29")]
    # a stay's visit discharged on the business date may have begun earlier: no warning for it
    stays = [visit("M1"), visit("M2", med_type="21", begin="2024-02-20 08:00:00", end="2024-03-01 10:00:00")]
    write_delivery(tmp_path, "daily", D1, {"his_feedetail.csv": lines, "his_mdtrt.csv": stays})
    res = {r.kind: r for r in load_folder(tmp_path, "daily", D1, conn_url=db_url)}
    assert res["his_feedetail"].status == "loaded"
    assert len(res["his_feedetail"].warnings) == 1
    assert res["his_feedetail"].warnings[0].startswith("fee_on_business_date failed: 1 unexpected; e.g. [{'file'")
    assert res["his_mdtrt"].status == "loaded" and res["his_mdtrt"].warnings == []
    got = q(db_url, "SELECT kind, expectation, severity FROM meta.validation_results WHERE NOT success")
    assert got == [("his_feedetail", "fee_on_business_date", "warning")]
    total = q(db_url, "SELECT count(*), count(*) FILTER (WHERE success) FROM meta.validation_results"
                      " WHERE kind = 'his_mdtrt'")[0]
    assert total[0] == total[1] > 10


def test_settlement_identities_and_stay_dates_are_critical(tmp_path: Path, db_url: str) -> None:
    write_delivery(tmp_path, "daily", D1, {
        # medfee 100 <> fund 60 + acct 10 + cash 20
        "setl.csv": [settlement("S1"), settlement("S2", cash="20.00")],
        # a stay in a folder that is not its discharge date
        "his_mdtrt.csv": [visit("M1", med_type="21", begin="2024-02-20 08:00:00", end="2024-02-28 10:00:00")],
    })
    res = {r.kind: r for r in load_folder(tmp_path, "daily", D1, conn_url=db_url)}
    assert res["setl"].status == "rejected"
    assert res["setl"].error.startswith("critical expectation failed: setl_total_identity")
    assert "'setl_id': 'S2'" in res["setl"].error
    assert res["his_mdtrt"].status == "rejected"
    assert "stay_discharged_on_business_date" in res["his_mdtrt"].error
    assert q(db_url, "SELECT count(*) FROM staging.setl") == [(0,)]


def test_code_table_values_are_checked(tmp_path: Path, db_url: str) -> None:
    write_delivery(tmp_path, "daily", D1, {"his_feedetail.csv": [fee_line("F1", med_type="99")]})
    (r,) = load_folder(tmp_path, "daily", D1, conn_url=db_url)
    assert r.status == "rejected"
    assert r.error == "critical expectation failed: code_table:med_type failed: 1 unexpected; e.g. ['99']"


def test_volume_band_from_recent_loads(db_url: str) -> None:
    from ingestion.schema import ensure_schema

    with psycopg.connect(db_url, autocommit=True) as conn:
        ensure_schema(conn)
        assert volume_band(conn, KINDS["setl"], D1) == (0, 2**62)  # no history: no band
        for day, rows in ((20, 900), (25, 1000), (27, 1200), (28, 5)):
            conn.execute(
                "INSERT INTO meta.load_log (section, business_date, kind, status, rows_loaded, kind_load_id)"
                " VALUES ('daily', %s, 'setl', %s, %s, 0)",
                (date(2024, 2, day), "loaded" if rows > 5 else "rejected", rows))
        assert volume_band(conn, KINDS["setl"], D1) == (333, 3001)
