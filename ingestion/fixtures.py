"""Small hand-made deliveries for tests (the synthetic generator makes the realistic ones).

write_delivery() writes CSV files plus a manifest.json whose rows/sha256 match,
unless told otherwise; tests then break one thing at a time.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import date
from pathlib import Path

from ingestion.contract import KINDS


def csv_bytes(
    columns: list[str],
    rows: list[dict],
    encoding: str = "utf-8",
    line_end: str = "\n",
) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=line_end, quoting=csv.QUOTE_MINIMAL)
    w.writerow(columns)
    for r in rows:
        w.writerow(["" if r.get(c) is None else r.get(c) for c in columns])
    return buf.getvalue().encode(encoding)


def write_delivery(
    landing: Path,
    section: str,
    business_date: date,
    files: dict[str, list[dict]],
    *,
    columns: dict[str, list[str]] | None = None,
    encoding: dict[str, str] | None = None,
    declare_encoding: bool = False,
    line_end: str = "\n",
    manifest_override: dict[str, dict] | None = None,
    write_manifest: bool = True,
) -> Path:
    """files: file name -> rows (dicts). columns: file name -> header (default: the kind's contract columns).
    encoding: file name -> python codec ('utf-8', 'utf-8-sig', 'gb18030')."""
    folder = Path(landing) / section / business_date.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, rows in files.items():
        from ingestion.delivery import kind_of_file

        kind = kind_of_file(name, section)
        cols = (columns or {}).get(name) or list(KINDS[kind.name].columns)
        codec = (encoding or {}).get(name, "utf-8")
        data = csv_bytes(cols, rows, codec, line_end)
        (folder / name).write_bytes(data)
        entry = {"name": name, "rows": len(rows), "sha256": hashlib.sha256(data).hexdigest()}
        if declare_encoding:
            entry["encoding"] = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "gb18030": "GB18030"}[codec]
        entry.update((manifest_override or {}).get(name, {}))
        entries.append(entry)
    if write_manifest:
        manifest = {"business_date": business_date.isoformat(), "files": entries}
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return folder


def rewrite_manifest(folder: Path) -> None:
    """Recompute rows/sha256 of every listed file (after a test edited a file on purpose)."""
    m = json.loads((folder / "manifest.json").read_text())
    for e in m["files"]:
        data = (folder / e["name"]).read_bytes()
        e["sha256"] = hashlib.sha256(data).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(m, indent=1))


def fee_line(sn: str, mdtrt: str = "M0001", *, fix: str = "H33020300001", init: str | None = None,
             cnt: str = "2", pric: str = "10.5", amt: str | None = None, day: str = "2024-03-01",
             dr: str | None = "D330203000001", med_type: str = "11") -> dict:
    return {
        "feedetl_sn": sn, "init_feedetl_sn": init, "mdtrt_id": mdtrt, "psn_no": "P0001",
        "fixmedins_code": fix, "med_type": med_type, "fee_ocur_time": f"{day} 09:30:00",
        "med_list_codg": "XA01", "medins_list_codg": "L01", "list_type": "101", "cnt": cnt,
        "pric": pric,
        "det_item_fee_sumamt": amt if amt is not None else f"{float(cnt) * float(pric):.2f}",
        "bilg_dept_codg": "A01", "bilg_dept_name": "内科", "bilg_dr_codg": dr, "bilg_dr_name": "张三",
        "rxno": "RX1", "prd_days": "7", "hosp_appr_flag": "0",
    }


def visit(mdtrt: str, *, fix: str = "H33020300001", med_type: str = "11", begin: str = "2024-03-01 08:00:00",
          end: str | None = "2024-03-01 08:00:00", atddr: str | None = "D330203000001") -> dict:
    return {
        "mdtrt_id": mdtrt, "psn_no": "P0001", "fixmedins_code": fix, "med_type": med_type, "insutype": "310",
        "begntime": begin, "endtime": end, "dept_codg": "A01", "dept_name": "内科", "atddr_no": atddr,
        "dise_codg": "J06.9", "dise_name": "急性上呼吸道感染", "ipt_otp_no": "O1",
    }


def settlement(setl_id: str, mdtrt: str = "M0001", *, total: str = "100.00", fund: str = "60.00",
               hifp: str = "50.00", acct: str = "10.00", cash: str = "30.00", day: str = "2024-03-01") -> dict:
    return {
        "setl_id": setl_id, "mdtrt_id": mdtrt, "psn_no": "P0001", "fixmedins_code": "H33020300001",
        "insutype": "310", "med_type": "11", "setl_time": f"{day} 10:00:00", "medfee_sumamt": total,
        "fulamt_ownpay_amt": "0", "overlmt_selfpay": "0", "inscp_scp_amt": total, "hifp_pay": hifp,
        "acct_pay": acct, "psn_cash_pay": cash, "fund_pay_sumamt": fund, "refd_setl_flag": "0",
        "init_setl_id": None,
    }


def person(psn: str, certno: str, *, gend: str = "1", brdy: str = "1980-01-01") -> dict:
    return {"psn_no": psn, "certno": certno, "psn_name": "李四", "gend": gend, "brdy": brdy,
            "insutype": "310", "psn_type": "1", "insu_admdvs": "330203", "death_date": None}


def valid_certno(first17: str = "33020319800101001") -> str:
    from ingestion.contract import certno_check_digit

    return first17 + certno_check_digit(first17)
