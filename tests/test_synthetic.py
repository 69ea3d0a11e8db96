"""The synthetic generator writes deliveries exactly per extracts.md, and its
ground truth points at records that exist (issue 2, 'Synthetic extracts')."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from ingestion.contract import (
    CERTNO_RE,
    CODE_TABLES,
    INSTITUTION_CODE_RE,
    KINDS,
    PRACTITIONER_CODE_RE,
    certno_is_valid,
)
from synthetic import generate, grain_key
from synthetic.catalog import REGIONS
from synthetic.corrections import correction_create_case, correction_remove_case
from synthetic.writer import FileStyle, write_file

SMALL = {"persons": 4000, "per_day": {"outpatient": 90, "pharmacy": 25, "stays": 4}}
START = dt.date(2024, 1, 1)
DAYS = 35


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("landing")
    generate(out, START, DAYS, seed=7, encoding="mix", quiet=True, params=SMALL)
    return out


def _decode(data: bytes, stated: str | None) -> str:
    if stated == "GB18030":
        return data.decode("gb18030")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def read_folder(folder: Path) -> tuple[dict, dict[str, list[dict[str, str]]], dict[str, list[str]]]:
    """manifest, rows per kind, headers per file."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    rows: dict[str, list[dict[str, str]]] = {}
    headers: dict[str, list[str]] = {}
    for e in manifest["files"]:
        data = (folder / e["name"]).read_bytes()
        reader = csv.reader(io.StringIO(_decode(data, e.get("encoding")), newline=""))
        header = next(reader)
        headers[e["name"]] = header
        kind = next(k for k in KINDS if re.fullmatch(KINDS[k].file_glob.replace("*", ".*"), e["name"]))
        rows.setdefault(kind, []).extend(dict(zip(header, r, strict=True)) for r in reader)
    return manifest, rows, headers


@pytest.fixture(scope="module")
def delivered(landing: Path) -> dict[str, list[dict[str, str]]]:
    """All daily rows by kind, each tagged with its folder date."""
    allrows: dict[str, list[dict[str, str]]] = {}
    for folder in sorted((landing / "daily").iterdir()):
        _, rows, _ = read_folder(folder)
        for kind, rs in rows.items():
            for r in rs:
                r["_folder"] = folder.name
            allrows.setdefault(kind, []).extend(rs)
    return allrows


@pytest.fixture(scope="module")
def reference(landing: Path) -> dict[str, dict[str, list[dict[str, str]]]]:
    return {f.name: read_folder(f)[1] for f in sorted((landing / "reference").iterdir())}


def test_layout_manifest_counts_and_checksums(landing: Path) -> None:
    days = sorted(p.name for p in (landing / "daily").iterdir())
    assert days == [(START + dt.timedelta(days=i)).isoformat() for i in range(DAYS)]
    refs = sorted(p.name for p in (landing / "reference").iterdir())
    assert len(refs) >= 2 and refs[0] < days[0] and days[0] < refs[1] <= days[-1]
    for folder in [*(landing / "daily").iterdir(), *(landing / "reference").iterdir()]:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["business_date"] == folder.name
        listed = {e["name"] for e in manifest["files"]}
        assert listed == {p.name for p in folder.glob("*.csv")}, folder
        for e in manifest["files"]:
            data = (folder / e["name"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == e["sha256"]
            text = _decode(data, e.get("encoding"))
            assert sum(1 for _ in csv.reader(io.StringIO(text, newline=""))) - 1 == e["rows"]
            # manifest written last: no data file is newer than the manifest
            assert (folder / e["name"]).stat().st_mtime_ns <= (folder / "manifest.json").stat().st_mtime_ns
        if folder.parent.name == "daily":
            kinds = {k for k in KINDS if KINDS[k].section == "daily"
                     and any(re.fullmatch(KINDS[k].file_glob.replace("*", ".*"), n) for n in listed)}
            assert len(kinds) == 5
    first = {p.name for p in (landing / "reference" / refs[0]).glob("*.csv")}
    assert first == {f"{k}.csv" for k in KINDS if KINDS[k].section == "reference"}
    later = {p.name for p in (landing / "reference" / refs[1]).glob("*.csv")}
    assert later and later < first  # the later folder carries only the kinds that changed


def test_split_and_merged_files(landing: Path) -> None:
    names = [p.name for p in (landing / "daily").glob("*/*.csv")]
    assert any(re.fullmatch(r"his_feedetail_H\d{11}\.csv", n) for n in names)
    assert any(n == "his_feedetail.csv" for n in names)
    assert any(re.fullmatch(r"pharmacy_sales_P\d{11}\.csv", n) for n in names)


def test_columns_present_some_shuffled_some_extra(landing: Path) -> None:
    shuffled = extra = 0
    for folder in [*(landing / "daily").iterdir(), *(landing / "reference").iterdir()]:
        _, _, headers = read_folder(folder)
        for name, header in headers.items():
            kind = next(k for k in KINDS if re.fullmatch(KINDS[k].file_glob.replace("*", ".*"), name))
            contract = list(KINDS[kind].columns)
            assert set(contract) <= set(header), (folder, name)
            shuffled += [c for c in header if c in contract] != contract
            extra += len(header) > len(contract)
    assert shuffled and extra


def test_encodings_mixed_and_each_decodes(landing: Path, tmp_path: Path) -> None:
    seen = set()
    stated = unstated = 0
    for m in (landing / "daily").glob("*/manifest.json"):
        for e in json.loads(m.read_text(encoding="utf-8"))["files"]:
            data = (m.parent / e["name"]).read_bytes()
            if "encoding" in e:
                stated += 1
                assert e["encoding"] in ("UTF-8", "GB18030")
            else:
                unstated += 1
            if data.startswith(b"\xef\xbb\xbf"):
                seen.add("utf8-bom")
            else:
                try:
                    data.decode("utf-8")
                    seen.add("utf8")
                except UnicodeDecodeError:
                    data.decode("gb18030")
                    seen.add("gb18030")
    assert seen == {"utf8", "utf8-bom", "gb18030"} and stated and unstated
    import random

    rows = [{"dise_codg": "J06.900", "dise_name": "急性上呼吸道感染,含逗号\n换行", "chapter": "J00-J99"}]
    for enc, codec in (("utf8", "utf-8"), ("utf8-bom", "utf-8-sig"), ("gb18030", "gb18030")):
        path = tmp_path / f"ref_disease_{enc}.csv"
        write_file(path, FileStyle(random.Random(1), enc, "ref_disease", vary=False), rows)
        data = path.read_bytes()
        assert data.startswith(b"\xef\xbb\xbf") == (enc == "utf8-bom")
        back = list(csv.DictReader(io.StringIO(data.decode(codec), newline="")))
        assert back == rows


def test_code_shapes_and_tables(delivered: dict, reference: dict) -> None:
    first = reference[min(reference)]
    for r in first["ref_medins"]:
        assert re.fullmatch(INSTITUTION_CODE_RE, r["fixmedins_code"]) and r["fixmedins_code"][1:7] in REGIONS
        assert (r["fixmedins_code"][0] == "H") == (r["fixmedins_type"] == "1")
        assert r["hosp_lv"] in CODE_TABLES["hosp_lv"] and r["fixmedins_type"] in CODE_TABLES["fixmedins_type"]
    names = [r["fixmedins_name"] for r in first["ref_medins"]]
    assert any("\n" in n for n in names) and any("," in n for n in names)  # quoted fields survive
    for r in first["ref_practitioner"]:
        assert re.fullmatch(PRACTITIONER_CODE_RE, r["prac_codg"])
        assert r["prac_type"] in CODE_TABLES["prac_type"] and (r["prac_codg"][0] == "D") == (r["prac_type"] == "1")
    for r in first["ref_psn"]:
        assert re.fullmatch(CERTNO_RE, r["certno"]) and certno_is_valid(r["certno"]), r
        assert r["gend"] in CODE_TABLES["gend"] and r["insutype"] in CODE_TABLES["insutype"]
        assert int(r["certno"][16]) % 2 == (1 if r["gend"] == "1" else 0)  # GB 11643 sex digit
    for r in first["ref_med_list"]:
        assert r["list_type"] in CODE_TABLES["list_type"] and r["chrgitm_lv"] in CODE_TABLES["chrgitm_lv"]
    types = {r["dise_type"] for r in first["ref_psn_special_dise"]}
    assert {"DIALYSIS", "TUMOR", "DIABETES", "HYPERTENSION", "HEMIPLEGIA"} <= types
    assert {r["list_type"] for r in first["ref_med_list"]} == set(CODE_TABLES["list_type"])
    for kind in ("his_feedetail", "pharmacy_sales"):
        for r in delivered[kind]:
            assert r["med_type"] in CODE_TABLES["med_type"] and r["list_type"] in CODE_TABLES["list_type"]
            assert re.fullmatch(INSTITUTION_CODE_RE, r["fixmedins_code"])
            if r["bilg_dr_codg"] and kind == "pharmacy_sales":
                assert r["bilg_dr_codg"].startswith("Y")
        assert all(r["med_type"] == "41" for r in delivered["pharmacy_sales"])
    for r in delivered["his_mdtrt"]:
        assert r["med_type"] in CODE_TABLES["med_type"] and r["insutype"] in CODE_TABLES["insutype"]
    assert {r["med_type"] for r in delivered["his_mdtrt"]} == {"11", "13", "14", "21"}


def test_amounts_and_refunds(delivered: dict) -> None:
    originals = {}
    for kind in ("his_feedetail", "pharmacy_sales"):
        for r in delivered[kind]:
            assert len(r["feedetl_sn"]) == 12 and r["feedetl_sn"].isdigit()
            amt = (Decimal(r["cnt"]) * Decimal(r["pric"])).quantize(Decimal("0.01"), ROUND_HALF_UP)
            assert Decimal(r["det_item_fee_sumamt"]) == amt, r
            if not r["init_feedetl_sn"]:
                originals[(r["fixmedins_code"], r["mdtrt_id"], r["feedetl_sn"])] = r
    refunds = [r for k in ("his_feedetail", "pharmacy_sales") for r in delivered[k] if r["init_feedetl_sn"]]
    assert refunds
    later = 0
    for r in refunds:
        o = originals[(r["fixmedins_code"], r["mdtrt_id"], r["init_feedetl_sn"])]
        assert Decimal(r["cnt"]) < 0 and Decimal(r["det_item_fee_sumamt"]) < 0
        assert o["_folder"] <= r["_folder"]
        later += o["_folder"] < r["_folder"]
    assert later  # some refunds arrive in a later day's folder


def test_settlement_identities_and_reversals(delivered: dict) -> None:
    setl = {r["setl_id"]: r for r in delivered["setl"]}
    reversals = 0
    for r in setl.values():
        d = {k: Decimal(r[k]) for k in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay", "psn_cash_pay", "hifp_pay")}
        assert d["medfee_sumamt"] == d["fund_pay_sumamt"] + d["acct_pay"] + d["psn_cash_pay"]
        if r["refd_setl_flag"] == "1":
            reversals += 1
            o = setl[r["init_setl_id"]]
            assert o["_folder"] <= r["_folder"]
            assert Decimal(r["fund_pay_sumamt"]) == -Decimal(o["fund_pay_sumamt"])
        else:
            assert d["fund_pay_sumamt"] >= d["hifp_pay"] >= 0
    assert reversals
    assert any(Decimal(r["fund_pay_sumamt"]) > Decimal(r["hifp_pay"]) for r in setl.values())


def test_stays_arrive_complete_on_discharge_day(delivered: dict) -> None:
    stays = [r for r in delivered["his_mdtrt"] if r["med_type"] == "21"]
    assert stays
    lines: dict[str, list[dict]] = {}
    for r in delivered["his_feedetail"]:
        lines.setdefault(r["mdtrt_id"], []).append(r)
    setl_folder = {r["mdtrt_id"]: r["_folder"] for r in delivered["setl"] if r["refd_setl_flag"] != "1"}
    diag_folder = {r["mdtrt_id"]: r["_folder"] for r in delivered["his_diag"]}
    for s in stays:
        assert s["endtime"][:10] == s["_folder"] and s["begntime"] < s["endtime"]
        own = [x for x in lines[s["mdtrt_id"]] if not x["init_feedetl_sn"]]
        assert all(x["_folder"] == s["_folder"] for x in own)
        assert min(x["fee_ocur_time"][:10] for x in own) == s["begntime"][:10]
        assert setl_folder[s["mdtrt_id"]] == s["_folder"] == diag_folder[s["mdtrt_id"]]
    for r in delivered["his_mdtrt"]:
        if r["med_type"] != "21":
            assert r["endtime"] in ("", r["begntime"])


def test_ground_truth_points_at_delivered_records(landing: Path, delivered: dict, reference: dict) -> None:
    with open(landing / "ground_truth" / "violations.csv", encoding="utf-8", newline="") as fh:
        gt = list(csv.DictReader(fh))
    assert list(gt[0]) == ["rule_code", "fixmedins_code", "mdtrt_id", "feedetl_sn", "rxno", "psn_no",
                           "period_start", "amount"]
    assert {r["rule_code"] for r in gt} == {f"R{i:02d}" for i in range(1, 17)}
    lines = {(r["fixmedins_code"], r["mdtrt_id"], r["feedetl_sn"]) for k in ("his_feedetail", "pharmacy_sales")
             for r in delivered[k]}
    visits = {r["mdtrt_id"] for r in delivered["his_mdtrt"]} | {r["mdtrt_id"] for r in delivered["pharmacy_sales"]}
    rx = {(r["fixmedins_code"], r["rxno"]) for r in delivered["his_feedetail"] if r["rxno"]}
    persons = {r["psn_no"] for r in reference[min(reference)]["ref_psn"]}
    for r in gt:
        assert re.fullmatch(r"-?\d+\.\d{2}", r["amount"]), r
        code = r["rule_code"]
        filled = {k for k, v in r.items() if v and k not in ("rule_code", "amount")}
        if code in ("R01", "R02", "R03"):
            assert filled == {"psn_no", "period_start"} and r["psn_no"] in persons
            dt.date.fromisoformat(r["period_start"])
        elif code in ("R12", "R13", "R15"):
            assert filled == {"mdtrt_id"} and r["mdtrt_id"] in visits
        elif code == "R10":
            assert filled == {"fixmedins_code", "rxno"} and (r["fixmedins_code"], r["rxno"]) in rx
        else:
            assert filled == {"fixmedins_code", "mdtrt_id", "feedetl_sn"}
            assert (r["fixmedins_code"], r["mdtrt_id"], r["feedetl_sn"]) in lines
    assert len({grain_key(r) for r in gt}) == len(gt)
    with open(landing / "ground_truth" / "near_misses.csv", encoding="utf-8", newline="") as fh:
        near = list(csv.DictReader(fh))
    assert {r["rule_code"] for r in near} >= {"R01", "R02", "R03", "R04", "R05", "R09", "R10", "R12", "R15", "R16"}
    assert not {grain_key({k: v for k, v in n.items() if k != "note"}) for n in near} & {grain_key(r) for r in gt}


def test_reference_changes_mid_period(reference: dict) -> None:
    first_date, later_date = sorted(reference)[:2]
    first, later = reference[first_date], reference[later_date]
    f_inst = {r["fixmedins_code"]: r for r in first["ref_medins"]}
    l_inst = {r["fixmedins_code"]: r for r in later["ref_medins"]}
    assert set(f_inst) - set(l_inst)  # an institution left the catalogue
    assert any(r["end_date"] and not f_inst[c]["end_date"] for c, r in l_inst.items())
    assert any(r["begn_date"] > first_date for r in first["ref_medins"])  # joins during the period
    f_items = {r["med_list_codg"]: r for r in first["ref_med_list"]}
    assert any(r != f_items[r["med_list_codg"]] for r in later["ref_med_list"])
    f_psn = {r["psn_no"]: r for r in first["ref_psn"]}
    assert any(r["death_date"] and not f_psn[r["psn_no"]]["death_date"] for r in later["ref_psn"])
    f_prac = {r["prac_codg"]: r for r in first["ref_practitioner"]}
    assert any(r["end_date"] and not f_prac[r["prac_codg"]]["end_date"] for r in later["ref_practitioner"])


def test_deterministic_with_same_seed(tmp_path: Path) -> None:
    tiny = {"persons": 1500, "hospitals": 12, "pharmacies": 6, "per_day": {"outpatient": 25, "pharmacy": 8, "stays": 1}}
    a = generate(tmp_path / "a", "2024-03-01", 30, seed=3, quiet=True, params=tiny)
    b = generate(tmp_path / "b", "2024-03-01", 30, seed=3, quiet=True, params=tiny)
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert files_a == files_b
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    assert a.ground_truth == b.ground_truth and set(a.per_rule) == {f"R{i:02d}" for i in range(1, 17)}


def test_corrections_remove_and_create(landing: Path, tmp_path: Path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(landing, out)
    with open(out / "ground_truth" / "violations.csv", encoding="utf-8", newline="") as fh:
        before = list(csv.DictReader(fh))
    rm = correction_remove_case(out)
    assert len(rm.removed) == 1 and rm.removed[0]["rule_code"] == "R09"
    mk = correction_create_case(out)
    assert len(mk.added) == 1 and mk.added[0]["rule_code"] == "R09"
    with open(out / "ground_truth" / "violations.csv", encoding="utf-8", newline="") as fh:
        after = list(csv.DictReader(fh))
    assert len(after) == len(before) and rm.removed[0] not in after and mk.added[0] in after
    for change in (rm, mk):
        folder = out / "daily" / change.date
        manifest, rows, _ = read_folder(folder)
        for e in manifest["files"]:
            assert hashlib.sha256((folder / e["name"]).read_bytes()).hexdigest() == e["sha256"]
        keys = {(r["fixmedins_code"], r["mdtrt_id"], r["feedetl_sn"]): r for r in rows["his_feedetail"]}
        if change is rm:
            r = rm.removed[0]
            assert (r["fixmedins_code"], r["mdtrt_id"], r["feedetl_sn"]) not in keys
        else:
            r = mk.added[0]
            line = keys[(r["fixmedins_code"], r["mdtrt_id"], r["feedetl_sn"])]
            assert Decimal(line["det_item_fee_sumamt"]) == (Decimal(line["cnt"]) * Decimal(line["pric"])).quantize(
                Decimal("0.01"))
        # other kinds of that folder are untouched
        orig_manifest = json.loads((landing / "daily" / change.date / "manifest.json").read_text(encoding="utf-8"))
        same = {e["name"]: e["sha256"] for e in orig_manifest["files"] if not e["name"].startswith("his_feedetail")}
        assert same == {e["name"]: e["sha256"] for e in manifest["files"] if not e["name"].startswith("his_feedetail")}


def test_cli_help_and_bad_days(tmp_path: Path) -> None:
    env_py = sys.executable
    res = subprocess.run([env_py, "-m", "synthetic", "generate", "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "--encoding" in res.stdout and "--scale" in res.stdout
    res = subprocess.run([env_py, "-m", "synthetic", "generate", "--out", str(tmp_path), "--days", "3"],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "at least" in res.stderr


def test_city_scale_streams_a_clean_contract_day(tmp_path: Path) -> None:
    """City generator at a small size: same contract, identities and ground-truth keys (the full size is
    measured in docs/synthetic.md)."""
    from synthetic.city import generate_city

    small = {"persons": 20000, "outpatient": 3000, "sales": 600, "stays": 100, "hospitals": 60, "pharmacies": 30}
    res = generate_city(tmp_path, dt.date(2024, 3, 1), 1, 5, "mix", quiet=True, params=small)
    assert res.counts["setl"] == 3000 + 600 + 100 and res.counts["his_mdtrt"] == 3100
    (ref_dir,) = (tmp_path / "reference").iterdir()
    assert ref_dir.name < "2024-03-01"
    _, ref, _ = read_folder(ref_dir)
    assert len(ref["ref_psn"]) == 20000 and all(certno_is_valid(r["certno"]) for r in ref["ref_psn"])
    _, rows, headers = read_folder(tmp_path / "daily" / "2024-03-01")
    for name, header in headers.items():
        kind = next(k for k in KINDS if re.fullmatch(KINDS[k].file_glob.replace("*", ".*"), name))
        assert set(KINDS[kind].columns) <= set(header)
    for r in rows["his_feedetail"] + rows["pharmacy_sales"]:
        assert Decimal(r["det_item_fee_sumamt"]) == Decimal(r["cnt"]) * Decimal(r["pric"])
    for r in rows["setl"]:
        assert Decimal(r["medfee_sumamt"]) == Decimal(r["fund_pay_sumamt"]) + Decimal(r["acct_pay"]) + Decimal(
            r["psn_cash_pay"])
        assert Decimal(r["fund_pay_sumamt"]) >= Decimal(r["hifp_pay"])
    stays = [r for r in rows["his_mdtrt"] if r["med_type"] == "21"]
    assert all(r["begntime"][:10] >= ref_dir.name and r["endtime"][:10] == "2024-03-01" for r in stays)
    visits = [r["psn_no"] for r in rows["his_mdtrt"]] + list({r["mdtrt_id"]: r["psn_no"] for r in rows["pharmacy_sales"]}.values())
    assert len(visits) == len(set(visits))  # one visit per person: R01/R02/R03/R12/R13 cannot fire
    lines = {(r["fixmedins_code"], r["mdtrt_id"], r["feedetl_sn"]): r for r in rows["his_feedetail"]}
    caps = {r["med_list_codg"]: r["max_pric"] for r in ref["ref_med_list"]}
    assert {r["rule_code"] for r in res.ground_truth} == {"R04", "R09", "R16"}
    for g in res.ground_truth:
        line = lines[(g["fixmedins_code"], g["mdtrt_id"], g["feedetl_sn"])]
        if g["rule_code"] == "R09":
            assert Decimal(g["amount"]) == (Decimal(line["pric"]) - Decimal(caps[line["med_list_codg"]])) * Decimal(line["cnt"])
        if g["rule_code"] == "R16":
            assert line["bilg_dr_codg"] == ""
        if g["rule_code"] == "R04":
            assert int(line["prd_days"]) > 7


def test_generation_check_refuses_unclean_background() -> None:
    """generate() fails loudly when the oracle finds a suspect nobody planted, or misses a planted one."""
    from types import SimpleNamespace

    from synthetic.generate import GenerationError, _check
    from synthetic.oracle import GT_COLUMNS

    gt = [{**{c: "" for c in GT_COLUMNS}, "rule_code": f"R{i:02d}", "psn_no": "P1", "period_start": "2024-01-01",
           "mdtrt_id": f"M{i}", "fixmedins_code": "H33020300001", "feedetl_sn": f"{i:012d}", "rxno": "RX1",
           "amount": "1.00"} for i in range(1, 17)]
    planted = [{k: r[k] for k in ("rule_code", "psn_no", "period_start", "mdtrt_id", "fixmedins_code",
                                  "feedetl_sn", "rxno")} for r in gt]
    _check(gt, SimpleNamespace(expected=planted, near=[]))
    with pytest.raises(GenerationError, match="unplanned"):
        _check(gt, SimpleNamespace(expected=planted[1:], near=[]))
    with pytest.raises(GenerationError, match="not found"):
        _check(gt[1:], SimpleNamespace(expected=planted, near=[]))
    with pytest.raises(GenerationError, match="near misses"):
        _check(gt, SimpleNamespace(expected=planted, near=[{**planted[0], "note": "x"}]))
