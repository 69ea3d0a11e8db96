"""Great Expectations on arrival (issue 3): critical failures refuse the kind, warnings are recorded."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import psycopg

from ingestion import load_folder
from ingestion.contract import KINDS
from ingestion.fixtures import fee_line, person, settlement, valid_certno, visit, write_delivery
from ingestion.gx_docs import build_data_docs
from ingestion.gx_suites import EXPECTATIONS_DIR, build_suite, suite_name
from ingestion.gx_validation import validate_table, volume_band
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


def test_critical_failure_refuses_the_kind_naming_expectation_and_examples(tmp_path: Path, db_url: str,
                                                                          monkeypatch) -> None:
    # a Data Docs folder of its own: the checkout's var/data_docs may hold an earlier run's site
    monkeypatch.setenv("DATA_DOCS_DIR", str(tmp_path / "data_docs"))
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
    assert not (settings().data_docs_dir / "index.html").exists()  # built once per run, not per load


def test_data_docs_built_once_from_the_recorded_results(tmp_path: Path, db_url: str) -> None:
    write_delivery(tmp_path / "land", "daily", D1, {
        "his_feedetail.csv": [fee_line("F1"), fee_line("F2", med_type="99")],
        "setl.csv": [settlement("S1")],
    })
    res = {r.kind: r for r in load_folder(tmp_path / "land", "daily", D1, conn_url=db_url)}
    assert res["his_feedetail"].status == "rejected" and res["setl"].status == "loaded"
    index = build_data_docs(db_url, docs_dir=tmp_path / "docs")
    assert index == tmp_path / "docs" / "index.html" and index.is_file()
    pages = sorted(p.relative_to(tmp_path / "docs").parts[1] for p in (tmp_path / "docs" / "validations").rglob("*.html"))
    assert pages == ["his_feedetail_arrival", "setl_arrival"]
    fee_page = next((tmp_path / "docs" / "validations" / "his_feedetail_arrival").rglob("*.html")).read_text()
    assert "code_table:med_type" in fee_page or "med_type" in fee_page
    assert "99" in fee_page  # the failing value, from meta.validation_results.examples


def test_sql_engine_agrees_with_gx_checkpoint(tmp_path: Path, db_url: str) -> None:
    """The loader evaluates the versioned suites as SQL; a real GX checkpoint must say the same."""
    write_delivery(tmp_path, "daily", D1, {
        "his_feedetail.csv": [fee_line(f"F{i}") for i in range(1, 9)],
        "setl.csv": [settlement(f"S{i}") for i in range(1, 6)],
        "his_mdtrt.csv": [visit(f"M{i}") for i in range(1, 6)],
    })
    write_delivery(tmp_path, "reference", D1, {
        "ref_psn.csv": [person(f"P{i}", valid_certno()) for i in range(1, 5)],
        "ref_psn_special_dise.csv": [{"psn_no": f"P{i}", "dise_type": "1", "dise_codg": "E11",
                                      "begn_date": "2020-01-01", "end_date": None} for i in range(1, 4)],
    })
    assert all(r.ok for r in load_folder(tmp_path, "daily", D1, conn_url=db_url))
    assert all(r.ok for r in load_folder(tmp_path, "reference", D1, conn_url=db_url))
    breakage = {  # each kind: several expectations fail, one of them more than once
        "his_feedetail": "UPDATE {t} SET med_type = CASE WHEN feedetl_sn IN ('F1', 'F2') THEN '99' ELSE med_type END,"
                         " fixmedins_code = CASE WHEN feedetl_sn = 'F3' THEN 'X1' ELSE fixmedins_code END,"
                         " psn_no = CASE WHEN feedetl_sn = 'F4' THEN NULL ELSE psn_no END,"
                         " det_item_fee_sumamt = CASE WHEN feedetl_sn = 'F5' THEN 99 ELSE det_item_fee_sumamt END,"
                         " fee_ocur_time = CASE WHEN feedetl_sn = 'F6' THEN fee_ocur_time - interval '1 day'"
                         " ELSE fee_ocur_time END",
        "setl": "UPDATE {t} SET insutype = CASE WHEN setl_id = 'S1' THEN '999' ELSE insutype END,"
                " psn_cash_pay = CASE WHEN setl_id IN ('S2', 'S3') THEN 1 ELSE psn_cash_pay END",
        "his_mdtrt": "UPDATE {t} SET dise_codg = CASE WHEN mdtrt_id = 'M1' THEN 'j06' ELSE dise_codg END,"
                     " atddr_no = CASE WHEN mdtrt_id = 'M2' THEN 'Q1' ELSE atddr_no END",
        "ref_psn": "UPDATE {t} SET psn_no = CASE WHEN psn_no = 'P2' THEN 'P1' ELSE psn_no END,"
                   " gend = CASE WHEN psn_no = 'P3' THEN '7' ELSE gend END",
        "ref_psn_special_dise": "UPDATE {t} SET psn_no = 'P1', end_date = CASE WHEN psn_no = 'P3'"
                                " THEN date '2019-01-01' ELSE end_date END WHERE psn_no IN ('P2', 'P3')",
    }
    with psycopg.connect(db_url, autocommit=True) as conn:
        for n, (kind, upd) in enumerate(breakage.items()):
            t = f"load.parity_{kind}"
            conn.execute(f"CREATE TABLE {t} AS SELECT * FROM {KINDS[kind].table}")
            conn.execute(upd.format(t=t))
            args = dict(conn=conn, conn_url=db_url, table=t, kind=KINDS[kind], business_date=D1, load_id=900 + n)
            sql = validate_table(**args)
            gx_ = validate_table(**args, engine="gx")
            by_name = {o.name: o for o in gx_}  # GX orders results by domain, not suite order
            assert len(by_name) == len(sql) == len(gx_)
            assert [(o.name, o.success) for o in sql] == [(o.name, by_name[o.name].success) for o in sql], kind
            assert sum(not o.success for o in sql) >= 2, kind
            for a in sql:
                b = by_name[a.name]
                if not b.success:
                    assert a.unexpected_count == b.unexpected_count, (kind, a.name)
                    if not a.name.startswith(("chk_", "unique")):
                        assert sorted(map(str, a.examples)) == sorted(map(str, b.examples)), (kind, a.name)
                    assert a.message().split(";")[0] == b.message().split(";")[0]


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


def test_positive_refund_line_refuses_the_kind_naming_refund_negative(tmp_path: Path, db_url: str) -> None:
    """A refund line (init_feedetl_sn set) must carry a negative cnt and amount: a positive one is critical."""
    refund = fee_line("F2", init="F1", cnt="2", pric="10.5")  # refunds F1 with the sign of a charge
    write_delivery(tmp_path, "daily", D1, {"his_feedetail.csv": [fee_line("F1"), refund, fee_line("F3")],
                                           "setl.csv": [settlement("S1")]})
    res = {r.kind: r for r in load_folder(tmp_path, "daily", D1, conn_url=db_url)}
    fee = res["his_feedetail"]
    assert fee.status == "rejected"
    assert fee.error.startswith("critical expectation failed: refund_negative failed: 1 unexpected; e.g. [")
    assert "'feedetl_sn': 'F2'" in fee.error and "'init_feedetl_sn': 'F1'" in fee.error
    assert res["setl"].status == "loaded"
    assert q(db_url, "SELECT count(*) FROM staging.his_feedetail") == [(0,)]
    failed = q(db_url, "SELECT expectation, severity, unexpected_count, examples FROM meta.validation_results"
                       " WHERE kind = 'his_feedetail' AND NOT success")
    assert [(f[0], f[1], f[2]) for f in failed] == [("refund_negative", "critical", 1)]
    assert failed[0][3][0]["feedetl_sn"] == "F2"
