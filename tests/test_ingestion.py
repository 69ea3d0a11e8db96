"""Ingestion (issue 3): manifests, encodings, CSV dialect, quarantine, reconciliation, re-delivery.

Every test builds its own tiny delivery with ingestion.fixtures and loads it
into a fresh database on the real PostgreSQL server.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import psycopg
import pytest

from ingestion import discover, load_folder, load_kind, load_pending
from ingestion.contract import KINDS
from ingestion.fixtures import (
    fee_line,
    person,
    rewrite_manifest,
    settlement,
    valid_certno,
    visit,
    write_delivery,
)

D1 = date(2024, 3, 1)
D2 = date(2024, 3, 2)


def q(url: str, sql: str, params=()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def by_kind(results) -> dict:
    return {r.kind: r for r in results}


def test_clean_delivery_loads_typed_with_lineage_and_ledger(tmp_path: Path, db_url: str) -> None:
    write_delivery(tmp_path, "daily", D1, {
        "his_mdtrt.csv": [visit("M1"), visit("M2")],
        "his_feedetail.csv": [fee_line("F1", "M1"), fee_line("F2", "M1"), fee_line("F3", "M2")],
        "setl.csv": [settlement("S1", "M1")],
    })
    res = by_kind(load_folder(tmp_path, "daily", D1, conn_url=db_url))
    assert {k: r.status for k, r in res.items()} == {"his_mdtrt": "loaded", "his_feedetail": "loaded", "setl": "loaded"}
    rows = q(db_url, "SELECT business_date, feedetl_sn, cnt, pric, det_item_fee_sumamt, fee_ocur_time, prd_days,"
                     " source_file, source_line FROM staging.his_feedetail ORDER BY source_line")
    assert [r[1] for r in rows] == ["F1", "F2", "F3"]
    assert rows[0][0] == D1 and str(rows[0][2]) == "2.0000" and str(rows[0][4]) == "21.00"
    assert rows[0][6] == 7 and rows[0][5].isoformat() == "2024-03-01T09:30:00"
    assert [(r[7], r[8]) for r in rows] == [("his_feedetail.csv", 2), ("his_feedetail.csv", 3), ("his_feedetail.csv", 4)]
    # partitioned by business date: the rows live in the day's partition
    part = q(db_url, "SELECT tableoid::regclass::text FROM staging.his_feedetail LIMIT 1")[0][0]
    assert part == "staging.his_feedetail_p20240301"
    ledger = q(db_url, "SELECT kind, file_name, sha256, rows_in_file, rows_loaded, rows_quarantined, status"
                       " FROM meta.load_log ORDER BY load_id")
    files = {r[1]: r for r in ledger if r[1]}
    data = (tmp_path / "daily/2024-03-01/his_feedetail.csv").read_bytes()
    assert files["his_feedetail.csv"][2:] == (hashlib.sha256(data).hexdigest(), 3, 3, 0, "loaded")
    summaries = {r[0]: r for r in ledger if r[1] is None}
    assert summaries["setl"][3:] == (1, 1, 0, "loaded")


def test_manifest_row_count_mismatch_rejects_file_naming_expected_and_actual(tmp_path: Path, db_url: str) -> None:
    write_delivery(tmp_path, "daily", D1, {
        "his_feedetail.csv": [fee_line("F1"), fee_line("F2")],
        "setl.csv": [settlement("S1")],
    }, manifest_override={"his_feedetail.csv": {"rows": 3}})
    res = by_kind(load_folder(tmp_path, "daily", D1, conn_url=db_url))
    fee = res["his_feedetail"]
    assert fee.status == "rejected"
    assert fee.error == "his_feedetail.csv: does not match manifest.json: rows expected 3, actual 2"
    assert res["setl"].status == "loaded"  # the other kinds of the folder still load
    assert q(db_url, "SELECT count(*) FROM staging.his_feedetail") == [(0,)]
    assert q(db_url, "SELECT status, error FROM meta.load_log WHERE file_name = 'his_feedetail.csv'") == [
        ("rejected", "does not match manifest.json: rows expected 3, actual 2")]


def test_manifest_checksum_mismatch_rejects_file(tmp_path: Path, db_url: str) -> None:
    folder = write_delivery(tmp_path, "daily", D1, {"his_mdtrt.csv": [visit("M1"), visit("M2")]})
    path = folder / "his_mdtrt.csv"
    expected = json.loads((folder / "manifest.json").read_text())["files"][0]["sha256"]
    # a truncated transfer: the last record is cut, a record count check alone would not see a
    # half line as missing, the checksum does
    path.write_bytes(path.read_bytes()[:-5] + b"\n")
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    (r,) = load_folder(tmp_path, "daily", D1, conn_url=db_url)
    assert r.status == "rejected"
    assert r.error == f"his_mdtrt.csv: does not match manifest.json: sha256 expected {expected}, actual {actual}"
    assert q(db_url, "SELECT count(*) FROM staging.his_mdtrt") == [(0,)]


def test_missing_listed_column_rejects_file_naming_the_column(tmp_path: Path, db_url: str) -> None:
    cols = [c for c in KINDS["setl"].columns if c != "hifp_pay"]
    write_delivery(tmp_path, "daily", D1, {"setl.csv": [settlement("S1")]}, columns={"setl.csv": cols})
    (r,) = load_folder(tmp_path, "daily", D1, conn_url=db_url)
    assert r.status == "rejected"
    assert r.error == "setl.csv: missing column(s): hifp_pay"
    assert q(db_url, "SELECT count(*) FROM staging.setl") == [(0,)]


def test_extra_columns_ignored_and_any_column_order(tmp_path: Path, db_url: str) -> None:
    cols = list(reversed(KINDS["his_mdtrt"].columns))
    cols.insert(3, "hosp_internal_note")
    cols.append("ANOTHER_EXTRA")
    rows = [dict(visit("M1"), hosp_internal_note="x", ANOTHER_EXTRA="y")]
    write_delivery(tmp_path, "daily", D1, {"his_mdtrt.csv": rows}, columns={"his_mdtrt.csv": cols})
    (r,) = load_folder(tmp_path, "daily", D1, conn_url=db_url)
    assert r.status == "loaded", r.error
    assert q(db_url, "SELECT mdtrt_id, fixmedins_code, med_type, dise_name FROM staging.his_mdtrt") == [
        ("M1", "H33020300001", "11", "急性上呼吸道感染")]


def test_split_files_form_one_extract(tmp_path: Path, db_url: str) -> None:
    write_delivery(tmp_path, "daily", D1, {
        "his_feedetail_H33020300001.csv": [fee_line("F1", "M1"), fee_line("F2", "M1")],
        "his_feedetail_H33020300002.csv": [fee_line("F1", "M1", fix="H33020300002"),
                                           # a refund whose original sits in the other file of the extract
                                           fee_line("F9", "M1", init="F2", cnt="-2"),
                                           # F2 exists, but for the other institution: points at nothing
                                           fee_line("F8", "M1", fix="H33020300002", init="F2", cnt="-2")],
    })
    (r,) = load_folder(tmp_path, "daily", D1, conn_url=db_url)
    assert r.status == "loaded" and r.rows_loaded == 4 and r.rows_quarantined == 1
    got = q(db_url, "SELECT source_file, source_line, feedetl_sn FROM staging.his_feedetail ORDER BY 1, 2")
    assert got == [("his_feedetail_H33020300001.csv", 2, "F1"), ("his_feedetail_H33020300001.csv", 3, "F2"),
                   ("his_feedetail_H33020300002.csv", 2, "F1"), ("his_feedetail_H33020300002.csv", 3, "F9")]
    assert q(db_url, "SELECT file_name, line_no FROM meta.quarantine") == [("his_feedetail_H33020300002.csv", 4)]
    assert [(f.rows_in_file, f.rows_loaded, f.rows_quarantined) for f in r.files] == [(2, 2, 0), (3, 2, 1)]


def test_one_rejected_file_keeps_the_whole_kind_out_for_that_date(tmp_path: Path, db_url: str) -> None:
    write_delivery(tmp_path, "daily", D1, {
        "his_feedetail_a.csv": [fee_line("F1", "M1")],
        "his_feedetail_b.csv": [fee_line("F2", "M2")],
    }, manifest_override={"his_feedetail_b.csv": {"sha256": "0" * 64}})
    (r,) = load_folder(tmp_path, "daily", D1, conn_url=db_url)
    assert r.status == "rejected"
    assert r.error.startswith("his_feedetail_b.csv: does not match manifest.json: sha256 expected " + "0" * 64)
    assert q(db_url, "SELECT count(*) FROM staging.his_feedetail") == [(0,)]
    ledger = dict(q(db_url, "SELECT file_name, status FROM meta.load_log WHERE file_name IS NOT NULL"))
    assert ledger == {"his_feedetail_a.csv": "rejected", "his_feedetail_b.csv": "rejected"}
    err_a = q(db_url, "SELECT error FROM meta.load_log WHERE file_name = 'his_feedetail_a.csv'")[0][0]
    assert err_a == "not loaded: his_feedetail_b.csv of the same kind was rejected"


@pytest.mark.parametrize("codec,declare", [("utf-8", False), ("utf-8-sig", False), ("gb18030", False),
                                           ("gb18030", True), ("utf-8-sig", True)])
def test_encodings_detected_or_declared(tmp_path: Path, db_url: str, codec: str, declare: bool) -> None:
    rows = [dict(visit("M1"), dept_name="心血管内科", dise_name="高血压病（原发性）"), visit("M2")]
    write_delivery(tmp_path, "daily", D1, {"his_mdtrt.csv": rows}, encoding={"his_mdtrt.csv": codec},
                   declare_encoding=declare)
    (r,) = load_folder(tmp_path, "daily", D1, conn_url=db_url)
    assert r.status == "loaded", r.error
    assert r.files[0].encoding == ("GB18030" if codec == "gb18030" else "UTF8")
    # the BOM is not part of the first column's name, the Chinese text survives
    assert q(db_url, "SELECT mdtrt_id, dept_name, dise_name FROM staging.his_mdtrt ORDER BY 1")[0] == (
        "M1", "心血管内科", "高血压病（原发性）")


def test_gb18030_past_the_probe_window_is_retried(tmp_path: Path, db_url: str, monkeypatch) -> None:
    import ingestion.csvfile as csvfile

    monkeypatch.setattr(csvfile, "PROBE_BYTES", 64)  # the GB18030 bytes sit beyond the probe
    rows = [visit(f"M{i}") for i in range(5)] + [dict(visit("M9"), dept_name="眼科")]
    write_delivery(tmp_path, "daily", D1, {"his_mdtrt.csv": rows}, encoding={"his_mdtrt.csv": "gb18030"})
    (r,) = load_folder(tmp_path, "daily", D1, conn_url=db_url)
    assert r.status == "loaded", r.error
    assert r.files[0].encoding == "GB18030"
    assert q(db_url, "SELECT dept_name FROM staging.his_mdtrt WHERE mdtrt_id = 'M9'") == [("眼科",)]


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_rfc4180_quoting_line_breaks_and_empty_strings(tmp_path: Path, db_url: str, line_end: str) -> None:
    rows = [
        dict(visit("M1"), dise_name='肺炎, "重症"\n第二行'),
        dict(visit("M2"), dept_name="", ipt_otp_no=None),
        visit("M3"),
    ]
    folder = write_delivery(tmp_path, "daily", D1, {"his_mdtrt.csv": rows}, line_end=line_end)
    # a quoted empty string is NULL too
    path = folder / "his_mdtrt.csv"
    path.write_bytes(path.read_bytes().replace(b"M2,P0001", b'"M2",P0001').replace(b",,", b',"",', 1))
    rewrite_manifest(folder)
    (r,) = load_folder(tmp_path, "daily", D1, conn_url=db_url)
    assert r.status == "loaded", r.error
    got = q(db_url, "SELECT mdtrt_id, dise_name, dept_name, ipt_otp_no, source_line FROM staging.his_mdtrt ORDER BY 1")
    assert got[0][1] == '肺炎, "重症"\n第二行'
    assert got[1][2] is None and got[1][3] is None
    # line numbers count records (header = line 1), not physical lines
    assert [g[4] for g in got] == [2, 3, 4]


def test_bad_rows_quarantined_with_file_line_raw_row_and_reason(tmp_path: Path, db_url: str) -> None:
    # an original loaded on an earlier day: a refund may point at it
    write_delivery(tmp_path, "daily", D1, {"his_feedetail.csv": [fee_line("E1", "M0")]})
    assert load_folder(tmp_path, "daily", D1, conn_url=db_url)[0].status == "loaded"
    d2 = "2024-03-02"
    lines = [
        fee_line("F1", day=d2),                                   # 2 ok
        fee_line("F2", day=d2, cnt="abc", amt="1"),               # 3 unparsable number
        fee_line("F3", day="2024-02-30"),                         # 4 impossible date
        fee_line("F4", day=d2, fix="H3302030001"),                # 5 code shape (10 digits)
        fee_line("F5", day=d2, dr="X123"),                        # 6 practitioner shape
        fee_line("F6", day=d2, dr=None),                          # 7 NULL prescriber is R16's business
        dict(fee_line("F7", day=d2), psn_no=None),                # 8 required NULL
        fee_line("F1", day=d2),                                   # 9 duplicate of line 2
        fee_line("R1", day=d2, init="F1", cnt="-2"),              # 10 refund of this delivery
        fee_line("R2", "M0", day=d2, init="E1", cnt="-2"),        # 11 refund of an earlier day's line
        fee_line("R3", day=d2, init="NOPE", cnt="-2"),            # 12 refund pointing at nothing
        fee_line("R4", day=d2, init="F2", cnt="-2"),              # 13 its original is quarantined
        dict(fee_line("F8", day=d2), prd_days="7.5"),             # 14 integer expected
        dict(fee_line("F9", day=d2), fee_ocur_time="2024-03-02T10:00"),  # 15 timestamp format
    ]
    write_delivery(tmp_path, "daily", D2, {"his_feedetail.csv": lines})
    (r,) = load_folder(tmp_path, "daily", D2, conn_url=db_url)
    assert r.status == "loaded", r.error
    got = q(db_url, "SELECT line_no, reason, raw_row FROM meta.quarantine WHERE business_date = %s ORDER BY 1",
            (D2,))
    reasons = {g[0]: g[1] for g in got}
    assert reasons == {
        3: "unparsable number in cnt: abc",
        4: "unparsable timestamp in fee_ocur_time: 2024-02-30 09:30:00",
        5: "wrong code shape in fixmedins_code (expected ^[HP][0-9]{11}$): H3302030001",
        6: "wrong code shape in bilg_dr_codg (expected ^[DY][0-9]{12}$): X123",
        8: "required value missing: psn_no",
        9: "duplicate key (fixmedins_code, mdtrt_id, feedetl_sn) in this delivery: first occurrence "
           "his_feedetail.csv line 2",
        12: "refund points at nothing: init_feedetl_sn NOPE has no line with that feedetl_sn for "
            "fixmedins_code H33020300001 and mdtrt_id M0001",
        13: "refund points at nothing: init_feedetl_sn F2 has no line with that feedetl_sn for "
            "fixmedins_code H33020300001 and mdtrt_id M0001",
        14: "unparsable number in prd_days: 7.5",
        15: "unparsable timestamp in fee_ocur_time: 2024-03-02T10:00",
    }
    raw3 = next(g[2] for g in got if g[0] == 3)
    assert raw3["cnt"] == "abc" and raw3["feedetl_sn"] == "F2" and raw3["bilg_dr_codg"] == "D330203000001"
    loaded = q(db_url, "SELECT source_line, feedetl_sn FROM staging.his_feedetail WHERE business_date = %s"
                       " ORDER BY 1", (D2,))
    assert loaded == [(2, "F1"), (7, "F6"), (10, "R1"), (11, "R2")]
    # counts reconcile exactly, per file, in the ledger
    assert q(db_url, "SELECT rows_in_file, rows_loaded, rows_quarantined FROM meta.load_log"
                     " WHERE business_date = %s AND file_name = 'his_feedetail.csv'", (D2,)) == [(14, 4, 10)]
    assert (r.rows_in_file, r.rows_loaded, r.rows_quarantined) == (14, 4, 10)


def test_several_reasons_of_one_row_are_all_named(tmp_path: Path, db_url: str) -> None:
    bad = dict(fee_line("F1", fix="X1", pric="1,5", amt="3"), mdtrt_id=None)
    write_delivery(tmp_path, "daily", D1, {"his_feedetail.csv": [bad]})
    load_folder(tmp_path, "daily", D1, conn_url=db_url)
    assert q(db_url, "SELECT reason FROM meta.quarantine") == [(
        "required value missing: mdtrt_id; unparsable number in pric: 1,5; "
        "wrong code shape in fixmedins_code (expected ^[HP][0-9]{11}$): X1",)]


def test_certno_check_digit_and_reference_snapshots(tmp_path: Path, db_url: str) -> None:
    good = valid_certno("33020319800101001")
    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    write_delivery(tmp_path, "reference", D1, {"ref_psn.csv": [person("P1", good), person("P2", wrong),
                                                              person("P3", good, brdy="1980-13-01")]})
    (r,) = load_folder(tmp_path, "reference", D1, conn_url=db_url)
    assert r.status == "loaded", r.error
    assert q(db_url, "SELECT line_no, reason FROM meta.quarantine ORDER BY 1") == [
        (3, f"wrong certno check digit in certno: {wrong}"), (4, "unparsable date in brdy: 1980-13-01")]
    # a second snapshot keeps the first: history keyed by snapshot_date
    write_delivery(tmp_path, "reference", D2, {"ref_psn.csv": [person("P1", good, gend="2")]})
    load_folder(tmp_path, "reference", D2, conn_url=db_url)
    assert q(db_url, "SELECT snapshot_date, psn_no, gend FROM staging.ref_psn ORDER BY 1, 2") == [
        (D1, "P1", "1"), (D2, "P1", "2")]
    # re-delivery of a snapshot replaces that snapshot's rows only
    write_delivery(tmp_path, "reference", D1, {"ref_psn.csv": [person("P4", good)]})
    (r,) = load_folder(tmp_path, "reference", D1, conn_url=db_url)
    assert r.status == "loaded"
    assert q(db_url, "SELECT snapshot_date, psn_no FROM staging.ref_psn ORDER BY 1, 2") == [(D1, "P4"), (D2, "P1")]
    assert q(db_url, "SELECT count(*) FROM meta.quarantine") == [(0,)]


def test_redelivery_replaces_and_same_delivery_twice_changes_nothing(tmp_path: Path, db_url: str) -> None:
    write_delivery(tmp_path, "daily", D1, {"his_feedetail.csv": [fee_line("F1"), fee_line("F2"),
                                                                  fee_line("F3", cnt="x", amt="1")]})
    write_delivery(tmp_path, "daily", D2, {"his_feedetail.csv": [fee_line("G1", day="2024-03-02")]})
    load_pending(tmp_path, conn_url=db_url)
    snapshot = q(db_url, "SELECT business_date, feedetl_sn, load_id FROM staging.his_feedetail ORDER BY 1, 2")
    assert [s[1] for s in snapshot] == ["F1", "F2", "G1"]
    (again,) = load_folder(tmp_path, "daily", D1, conn_url=db_url)
    assert again.status == "unchanged"
    assert q(db_url, "SELECT business_date, feedetl_sn, load_id FROM staging.his_feedetail ORDER BY 1, 2") == snapshot
    assert q(db_url, "SELECT count(*) FROM meta.quarantine") == [(1,)]
    assert load_pending(tmp_path, conn_url=db_url) == []
    # corrected extract: F2 is gone, F4 is new, the bad line is fixed
    write_delivery(tmp_path, "daily", D1, {"his_feedetail.csv": [fee_line("F1"), fee_line("F3"), fee_line("F4")]})
    assert [r.kind for r in discover(tmp_path, conn_url=db_url)] == ["his_feedetail"]
    (redo,) = load_pending(tmp_path, conn_url=db_url)
    assert redo.status == "loaded"
    assert q(db_url, "SELECT business_date, feedetl_sn FROM staging.his_feedetail ORDER BY 1, 2") == [
        (D1, "F1"), (D1, "F3"), (D1, "F4"), (D2, "G1")]
    assert q(db_url, "SELECT count(*) FROM meta.quarantine") == [(0,)]  # superseded with its delivery
    statuses = q(db_url, "SELECT status FROM meta.load_log WHERE file_name IS NULL AND business_date = %s"
                         " ORDER BY load_id", (D1,))
    assert [s[0] for s in statuses] == ["loaded", "unchanged", "loaded"]


def test_discover_complete_folders_in_order_and_pending(tmp_path: Path, db_url: str) -> None:
    write_delivery(tmp_path, "daily", D1, {"setl.csv": [settlement("S1")], "his_mdtrt.csv": [visit("M1")]})
    write_delivery(tmp_path, "reference", D1, {"ref_disease.csv": [{"dise_codg": "J06.9", "dise_name": "x",
                                                                    "chapter": "J"}]})
    write_delivery(tmp_path, "daily", D2, {"setl.csv": [settlement("S2")]}, write_manifest=False)  # incomplete
    got = [(r.section, r.business_date, r.kind) for r in discover(tmp_path, conn_url=db_url)]
    assert got == [("reference", D1, "ref_disease"), ("daily", D1, "his_mdtrt"), ("daily", D1, "setl")]
    assert [r.kind for r in discover(tmp_path, up_to=date(2024, 2, 29), conn_url=db_url)] == []
    load_pending(tmp_path, conn_url=db_url)
    assert discover(tmp_path, conn_url=db_url) == []
    assert len(discover(tmp_path, pending_only=False, conn_url=db_url)) == 3


def test_load_kind_signatures(tmp_path: Path, db_url: str) -> None:
    write_delivery(tmp_path, "daily", D1, {"setl.csv": [settlement("S1")]})
    r = load_kind(tmp_path, "daily", "2024-03-01", "setl", conn_url=db_url)
    assert r.status == "loaded" and r.rows_loaded == 1
    (ref,) = discover(tmp_path, pending_only=False, conn_url=db_url)
    assert load_kind(ref, conn_url=db_url).status == "unchanged"
    assert load_kind(ref, conn_url=db_url, force=True).status == "loaded"
    assert q(db_url, "SELECT count(*) FROM staging.setl") == [(1,)]


def test_listed_file_missing_on_disk_is_rejected(tmp_path: Path, db_url: str) -> None:
    folder = write_delivery(tmp_path, "daily", D1, {"setl.csv": [settlement("S1")]})
    (folder / "setl.csv").unlink()
    (r,) = load_folder(tmp_path, "daily", D1, conn_url=db_url)
    assert r.status == "rejected" and r.error == "setl.csv: listed in manifest.json but not in the folder"


def test_malformed_csv_rejects_file(tmp_path: Path, db_url: str) -> None:
    folder = write_delivery(tmp_path, "daily", D1, {"his_mdtrt.csv": [visit("M1"), visit("M2")]})
    path = folder / "his_mdtrt.csv"
    path.write_bytes(path.read_bytes() + b'M3,"unterminated\n')
    m = json.loads((folder / "manifest.json").read_text())
    m["files"][0]["rows"] = 3
    (folder / "manifest.json").write_text(json.dumps(m))
    rewrite_manifest(folder)
    (r,) = load_folder(tmp_path, "daily", D1, conn_url=db_url)
    assert r.status == "rejected"
    assert r.error.startswith("his_mdtrt.csv: malformed CSV: unterminated CSV quoted field")


def test_codes_compared_trimmed_and_upper_cased(tmp_path: Path, db_url: str) -> None:
    # stg trims and upper-cases codes; arrival checks (quarantine and GX) accept what stg will fix
    write_delivery(tmp_path, "daily", D1, {"his_feedetail.csv": [fee_line("F1", fix=" h33020300001",
                                                                          dr="d330203000001 ")]})
    (r,) = load_folder(tmp_path, "daily", D1, conn_url=db_url)
    assert r.status == "loaded" and r.rows_quarantined == 0, r.error
    assert q(db_url, "SELECT fixmedins_code, bilg_dr_codg FROM staging.his_feedetail") == [
        (" h33020300001", "d330203000001 ")]


def test_refund_waiting_for_a_rejected_original_is_readmitted_when_it_arrives(tmp_path: Path, db_url: str) -> None:
    """Day 1's fee file is rejected (manifest disagrees), day 2 refunds one of its lines: the refund waits in
    quarantine; when day 1 is re-delivered the refund loads too, and the warehouse equals an in-order load."""
    write_delivery(tmp_path, "daily", D1, {"his_feedetail.csv": [fee_line("F1", "M1"), fee_line("F2", "M1")]},
                   manifest_override={"his_feedetail.csv": {"rows": 5}})
    refund = fee_line("F9", "M1", init="F1", cnt="-2", day="2024-03-02")
    write_delivery(tmp_path, "daily", D2, {"his_feedetail.csv": [refund, fee_line("F3", "M3", day="2024-03-02")]})
    first = load_pending(tmp_path, conn_url=db_url)
    assert [r.status for r in first] == ["rejected", "loaded"]
    assert q(db_url, "SELECT business_date, line_no, reason FROM meta.quarantine") == [
        (D2, 2, "refund points at nothing: init_feedetl_sn F1 has no line with that feedetl_sn"
                " for fixmedins_code H33020300001 and mdtrt_id M1")]

    write_delivery(tmp_path, "daily", D1, {"his_feedetail.csv": [fee_line("F1", "M1"), fee_line("F2", "M1")]})
    again = load_pending(tmp_path, conn_url=db_url)
    assert [(r.business_date, r.status) for r in again] == [(D1, "loaded")]
    assert q(db_url, "SELECT count(*) FROM meta.quarantine") == [(0,)]
    assert q(db_url, "SELECT business_date, feedetl_sn FROM staging.his_feedetail ORDER BY 1, 2") == [
        (D1, "F1"), (D1, "F2"), (D2, "F3"), (D2, "F9")]
    ledger = q(db_url, "SELECT business_date, rows_in_file, rows_loaded, rows_quarantined, status FROM meta.load_log"
                       " WHERE file_name IS NULL AND status = 'loaded' ORDER BY load_id DESC LIMIT 2")
    assert sorted(ledger) == [(D1, 2, 2, 0, "loaded"), (D2, 2, 2, 0, "loaded")]
    assert discover(tmp_path, pending_only=True, conn_url=db_url) == []


@pytest.mark.parametrize("slices", [1, 2])
def test_big_kinds_insert_in_parallel_slices_with_the_same_result(tmp_path: Path, db_url: str, slices: int,
                                                                  monkeypatch) -> None:
    import ingestion.loader

    # a city day's fee lines insert in rid slices on parallel connections; make this tiny one do it too
    monkeypatch.setattr(ingestion.loader, "PARALLEL_INSERT_ROWS", 1 if slices > 1 else 10**9)
    lines = [fee_line(f"F{i}", "M1") for i in range(1, 8)] + [fee_line("F3", "M1"), fee_line("FX", "M1", cnt="x", amt="1")]
    write_delivery(tmp_path, "daily", D1, {
        "his_feedetail_a.csv": lines[:5], "his_feedetail_b.csv": lines[5:],
    })
    (r,) = load_folder(tmp_path, "daily", D1, conn_url=db_url)
    assert r.status == "loaded" and (r.rows_loaded, r.rows_quarantined) == (7, 2)
    assert q(db_url, "SELECT source_file, source_line, feedetl_sn FROM staging.his_feedetail ORDER BY 1, 2") == [
        ("his_feedetail_a.csv", 2, "F1"), ("his_feedetail_a.csv", 3, "F2"), ("his_feedetail_a.csv", 4, "F3"),
        ("his_feedetail_a.csv", 5, "F4"), ("his_feedetail_a.csv", 6, "F5"), ("his_feedetail_b.csv", 2, "F6"),
        ("his_feedetail_b.csv", 3, "F7")]
    assert q(db_url, "SELECT file_name, line_no, left(reason, 30) FROM meta.quarantine ORDER BY 1, 2") == [
        ("his_feedetail_b.csv", 4, "duplicate key (fixmedins_code,"), ("his_feedetail_b.csv", 5, "unparsable number in cnt: x")]


def test_key_index_of_an_older_schema_is_rebuilt_in_key_order(db_url: str) -> None:
    from ingestion.schema import ensure_schema, key_index_columns

    with psycopg.connect(db_url, autocommit=True) as conn:
        ensure_schema(conn)
        conn.execute("DROP INDEX staging.his_feedetail_delivery_key_uq")
        conn.execute("CREATE UNIQUE INDEX his_feedetail_delivery_key_uq ON staging.his_feedetail"
                     " (business_date, fixmedins_code, mdtrt_id, feedetl_sn)")  # the pre-release order
        conn.execute("COMMENT ON SCHEMA meta IS NULL")  # databases of that time carry no schema version
        ensure_schema(conn)
    cols = q(db_url, "SELECT pg_get_indexdef('staging.his_feedetail_delivery_key_uq'::regclass)")[0][0]
    assert cols.endswith("(" + ", ".join(key_index_columns(KINDS["his_feedetail"])) + ")")
    assert key_index_columns(KINDS["his_feedetail"])[-1] == "business_date"


def test_ensure_schema_of_a_current_database_takes_no_table_lock(db_url: str) -> None:
    """Every load calls ensure_schema; its DDL used to deadlock with a concurrent load's publish."""
    from ingestion.schema import ensure_schema

    with psycopg.connect(db_url, autocommit=True) as conn:
        ensure_schema(conn)
    with psycopg.connect(db_url) as holder, psycopg.connect(db_url, autocommit=True) as conn:
        # a publishing load: rows going into the ledger, quarantine and a daily table
        holder.execute("LOCK TABLE meta.load_log, meta.quarantine, staging.his_feedetail IN ROW EXCLUSIVE MODE")
        conn.execute("SET lock_timeout = '2s'")
        ensure_schema(conn)  # would wait for ACCESS EXCLUSIVE / SHARE locks and time out
        holder.rollback()


def _day_snapshot(url: str, day: date) -> tuple[list, list]:
    """Every staged fee line and quarantine row of the day, without the load's id."""
    cols = ", ".join(["business_date", *KINDS["his_feedetail"].columns, "source_file", "source_line"])
    rows = q(url, f"SELECT {cols} FROM staging.his_feedetail WHERE business_date = %s ORDER BY source_file,"
                  " source_line", (day,))
    quarantine = q(url, "SELECT file_name, line_no, raw_row::text, reason FROM meta.quarantine"
                        " WHERE business_date = %s ORDER BY 1, 2", (day,))
    return rows, quarantine


@pytest.mark.parametrize("case,typed,screened", [
    # clean, split over two files, columns reordered: the typed COPY is used as it stands
    ("clean", True, True),
    # values the typed COPY reads but the contract refuses: screened out, checked in SQL, deleted from
    # the typed copy
    ("refused_but_castable", True, True),
    # codes the SQL check accepts only trimmed / upper-cased (screened out, then kept), a refund whose
    # original is quarantined, quoting, a quoted line break, the 31st of a month
    ("screen_edges", True, True),
    # a value the typed COPY cannot read at all: it rolls back and the text copy is cast instead
    ("unparsable", False, False),
    # a key twice: the key index fails and the load redoes the insert without the duplicate
    ("duplicate", False, False),
])
def test_typed_copy_gives_exactly_the_rows_of_the_cast_path(tmp_path: Path, db_url: str, monkeypatch,
                                                            case: str, typed: bool, screened: bool) -> None:
    lines = [fee_line(f"F{i}", "M1") for i in range(1, 7)]
    if case == "refused_but_castable":
        lines += [
            fee_line("B1", "M1", amt="21.004"),                  # rounded by numeric(16,2), refused
            fee_line("B2", "M1", cnt="1e1", amt="105.00"),      # exponent: numeric reads it
            dict(fee_line("B3", "M1"), prd_days=" 7"),           # integer with a blank
            fee_line("B4", "M1", fix="H3302030001"),             # code shape
            dict(fee_line("B5", "M1"), psn_no=None),             # required NULL
            fee_line("B6", "M1", init="NOPE", cnt="-2"),         # refund pointing at nothing
            dict(fee_line("B7", "M1"), fee_ocur_time="2024-03-01T09:30"),
            fee_line("R1", "M1", init="F2", cnt="-2"),           # a good refund
        ]
    elif case == "screen_edges":
        lines += [
            fee_line("C1", "M1", fix=" H33020300001"),
            fee_line("C2", "M1", fix="h33020300001"),
            fee_line("C3", "M1", dr="d330203000001 "),
            fee_line("Q1", "M1", amt="21.004"),                   # refused ...
            fee_line("R2", "M1", init="Q1", cnt="-2"),            # ... so its refund points at nothing
            dict(fee_line("C4", "M1"), bilg_dr_name='张"三,李', bilg_dept_name="内\n科"),
            fee_line("C5", "M1", day="2024-01-31"),
            fee_line("R3", "M1", init="F1", cnt="-1"),
        ]
    elif case == "unparsable":
        lines += [fee_line("B1", "M1", cnt="abc", amt="1"), fee_line("F7", "M1")]
    elif case == "duplicate":
        lines += [fee_line("F2", "M1"), fee_line("F8", "M1")]
    cols = list(reversed(KINDS["his_feedetail"].columns))
    write_delivery(tmp_path, "daily", D1, {"his_feedetail_1.csv": lines[:4], "his_feedetail_2.csv": lines[4:]},
                   columns={"his_feedetail_1.csv": cols, "his_feedetail_2.csv": cols})
    monkeypatch.setenv("LOAD_TYPED_COPY", "false")
    cast = load_kind(tmp_path, "daily", D1, "his_feedetail", conn_url=db_url)
    assert cast.status == "loaded" and not cast.typed_copy
    expected = _day_snapshot(db_url, D1)
    monkeypatch.setenv("LOAD_TYPED_COPY", "true")
    got = load_kind(tmp_path, "daily", D1, "his_feedetail", conn_url=db_url, force=True)
    assert got.status == "loaded" and got.typed_copy is typed and got.screened is screened
    assert _day_snapshot(db_url, D1) == expected
    assert (got.rows_in_file, got.rows_loaded, got.rows_quarantined) == (
        cast.rows_in_file, cast.rows_loaded, cast.rows_quarantined)
    if case == "refused_but_castable":
        assert cast.rows_quarantined == 7 and expected[0][-1][-2:] == ("his_feedetail_2.csv", 11)  # R1
    if case == "screen_edges":
        assert [r[-1][:30] for r in expected[1]] == ["unparsable number in det_item_", "refund points at nothing: init"]
        assert cast.rows_loaded == 12
    monkeypatch.setenv("LOAD_SCREEN", "false")  # the typed copy beside the full text copy: the same again
    full = load_kind(tmp_path, "daily", D1, "his_feedetail", conn_url=db_url, force=True)
    assert full.status == "loaded" and full.typed_copy is typed and not full.screened
    assert _day_snapshot(db_url, D1) == expected
    # the partition keeps no trace of how it was filled: no column defaults, no sequence
    assert q(db_url, "SELECT count(*) FROM pg_attrdef d JOIN pg_class c ON c.oid = d.adrelid"
                     " WHERE c.relname = 'his_feedetail_p20240301'") == [(0,)]
    assert q(db_url, "SELECT count(*) FROM pg_class WHERE relkind = 'S' AND relnamespace IN"
                     " ('staging'::regnamespace, 'load'::regnamespace)") == [(0,)]
