"""Per-institution suspect exports (疑点清单) for hospitals and pharmacies.

For one period (a calendar month) every institution with suspects in
marts.fct_violations gets

    <exports_dir>/<YYYY-MM>/<fixmedins_code>/suspects_<fixmedins_code>_<YYYY-MM>.csv
    <exports_dir>/<YYYY-MM>/<fixmedins_code>/suspects_<fixmedins_code>_<YYYY-MM>.xlsx

The XLSX opens on a sheet explaining every rule the file contains (Chinese and
English names, disposition, threshold, from the rule seed ref.audit_rules),
then the suspects. Personal identifiers are masked: the institution only sees
its own visit/line keys, which is all it needs to find the case in its HIS.
Files are written to a temp name in the same folder and renamed, so a reader
never sees half a file; an institution that no longer has suspects in a
re-exported period loses its old files, so a rerun equals a clean run.

Each institution folder also holds `.fingerprint`: the SHA-256 of what its two
files were written from (the masked rows, the rule rows they cite, the file
layout's version). A re-export whose fingerprint matches and whose files are
both there leaves them untouched: a day's run re-exports the previous month
too (late deliveries reach back), and most of it has not moved.

Person-period rules (R01-R03) carry no fixmedins_code (the suspect is the
person across institutions) and are therefore in no institution's export.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import dict_row

from warehouse.config import settings

log = logging.getLogger(__name__)

EXPORT_COLUMNS: tuple[str, ...] = (
    "violation_id", "rule_code", "rule_name_zh", "rule_name_en", "rule_version", "disposition",
    "severity", "business_date", "fixmedins_code", "dept_codg", "prac_codg", "psn_no", "mdtrt_id",
    "feedetl_sn", "rxno", "amount", "evidence", "detected_at",
)
HEADERS_ZH: dict[str, str] = {
    "violation_id": "疑点编号", "rule_code": "规则编码", "rule_name_zh": "规则名称",
    "rule_name_en": "Rule name", "rule_version": "规则版本", "disposition": "处理方式",
    "severity": "等级", "business_date": "业务日期", "fixmedins_code": "定点机构编码",
    "dept_codg": "科室编码", "prac_codg": "医师编码", "psn_no": "人员编号(脱敏)",
    "mdtrt_id": "就诊ID", "feedetl_sn": "费用明细流水号", "rxno": "处方号",
    "amount": "疑点金额(元)", "evidence": "证据", "detected_at": "发现时间",
}
DISPOSITION_ZH: dict[str, str] = {
    "deduct": "违规费用 (deduct)",
    "hospital_review": "发医院核查 (hospital review)",
    "pending_review": "待核查 (pending review)",
}
# Keys of evidence objects that hold personal data: masked like psn_no.
PERSONAL_KEYS = frozenset({"psn_no", "certno", "psn_name", "name", "brdy", "birth_date", "tel", "mobile", "addr"})
FILE_RE = re.compile(r"^suspects_[A-Z0-9]+_\d{4}-\d{2}\.(csv|xlsx)$")
FINGERPRINT_NAME = ".fingerprint"
# bump when the files' layout changes (columns, sheets, masking): every file is then rewritten once
FILE_LAYOUT_VERSION = "1"
PERIOD_RE = re.compile(r"^\d{4}-\d{2}$")


@dataclass(frozen=True)
class InstitutionExport:
    period: str
    fixmedins_code: str
    rows: int
    amount: Decimal
    csv_path: Path
    xlsx_path: Path
    rewritten: bool = True  # False: the files already held exactly these rows (fingerprint matched)

    def as_dict(self) -> dict[str, Any]:
        return {"period": self.period, "fixmedins_code": self.fixmedins_code, "rows": self.rows,
                "amount": str(self.amount), "csv": str(self.csv_path), "xlsx": str(self.xlsx_path),
                "rewritten": self.rewritten}


def mask_identifier(value: str | None) -> str | None:
    """Keep the first 3 and last 2 characters (enough to tell cases apart on a call), star the rest."""
    if value is None or value == "":
        return value
    if len(value) <= 5:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 5) + value[-2:]


def mask_evidence(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (mask_identifier(str(v)) if k in PERSONAL_KEYS and v is not None else mask_evidence(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [mask_evidence(v) for v in value]
    return value


def period_bounds(period: str) -> tuple[date, date]:
    """[first day, first day of next month) of 'YYYY-MM'."""
    if not PERIOD_RE.match(period):
        raise ValueError(f"period must be YYYY-MM, got {period!r}")
    y, m = int(period[:4]), int(period[5:])
    start = date(y, m, 1)
    end = date(y + (m == 12), m % 12 + 1, 1)
    return start, end


def month_of(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def months_between(first: date, last: date) -> list[str]:
    out: list[str] = []
    y, m = first.year, first.month
    while (y, m) <= (last.year, last.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = y + (m == 12), m % 12 + 1
    return out


_SUSPECTS_SQL = """
SELECT v.violation_id, v.rule_code, r.name_zh AS rule_name_zh, r.name_en AS rule_name_en, v.rule_version, v.disposition, v.severity,
       v.business_date, v.fixmedins_code, v.dept_codg, v.prac_codg, v.psn_no, v.mdtrt_id,
       v.feedetl_sn, v.rxno, v.amount, v.evidence, v.detected_at
FROM marts.fct_violations v
LEFT JOIN ref.audit_rules r ON r.code = v.rule_code
WHERE v.business_date >= %(start)s AND v.business_date < %(end)s
  AND v.fixmedins_code IS NOT NULL
ORDER BY v.fixmedins_code, v.rule_code, v.business_date, v.mdtrt_id, v.feedetl_sn NULLS FIRST,
         v.rxno NULLS FIRST, v.violation_id
"""

_RULES_SQL = """
SELECT code, name_zh, name_en, description, grain, threshold, threshold_alt, threshold_note,
       disposition, severity, rule_version
FROM ref.audit_rules ORDER BY code
"""


def _cell(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def _export_row(rec: dict[str, Any]) -> dict[str, Any]:
    rec = dict(rec)
    rec["psn_no"] = mask_identifier(rec["psn_no"])
    rec["evidence"] = mask_evidence(rec["evidence"])
    # openpyxl cannot store time-zone-aware datetimes: write the bureau's local time
    if getattr(rec.get("detected_at"), "tzinfo", None) is not None:
        rec["detected_at"] = rec["detected_at"].astimezone(ZoneInfo(settings().business_tz)).replace(tzinfo=None)
    return rec


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)  # same directory: atomic on POSIX
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    def write(tmp: Path) -> None:
        # UTF-8 with BOM: Excel on a bureau PC opens it with the Chinese intact.
        with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(EXPORT_COLUMNS)
            for r in rows:
                w.writerow(["" if r[c] is None else _cell(r[c]) for c in EXPORT_COLUMNS])
    _atomic_write(path, write)


def _write_xlsx(path: Path, rows: Sequence[dict[str, Any]], rules: dict[str, dict[str, Any]],
                fixmedins_code: str, period: str) -> None:
    # write-only workbook: rows stream to the file instead of living as cell objects
    # (a large hospital's month is tens of thousands of rows; docs/benchmarks.md)
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font

    used = sorted({r["rule_code"] for r in rows})
    bold = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")

    def write(tmp: Path) -> None:
        wb = Workbook(write_only=True)
        ws = wb.create_sheet("规则说明 Rules")
        for col, width in zip("ABCDEFGHIJK", (10, 18, 30, 26, 9, 10, 12, 28, 80, 10, 14), strict=True):
            ws.column_dimensions[col].width = width
        ws.append([f"{fixmedins_code} 疑点清单 suspects {period}",
                   f"共 {len(rows)} 条 / {len(rows)} rows; 人员编号已脱敏 personal identifiers masked"])
        ws.append([])
        head = ["规则编码 Code", "规则名称 Name (中文)", "Rule name (English)", "处理方式 Disposition",
                "等级 Severity", "阈值 Threshold", "备选阈值 Alt. threshold", "阈值说明 Threshold note",
                "规则说明 Description", "疑点数 Suspects", "疑点金额 Amount (元)"]
        ws.append([_styled(ws, h, font=bold) for h in head])
        counts: dict[str, int] = {}
        amounts: dict[str, Decimal] = {}
        for x in rows:
            counts[x["rule_code"]] = counts.get(x["rule_code"], 0) + 1
            amounts[x["rule_code"]] = amounts.get(x["rule_code"], Decimal(0)) + (x["amount"] or 0)
        for code in used:
            r = rules.get(code, {})
            ws.append([code, r.get("name_zh"), r.get("name_en"),
                       DISPOSITION_ZH.get(r.get("disposition") or "", r.get("disposition")),
                       r.get("severity"), r.get("threshold"), r.get("threshold_alt"), r.get("threshold_note"),
                       _styled(ws, r.get("description"), alignment=wrap), counts[code], float(amounts[code])])

        ds = wb.create_sheet("疑点明细 Suspects")
        ds.freeze_panes = "A2"
        ds.append([_styled(ds, f"{HEADERS_ZH[c]} {c}", font=bold) for c in EXPORT_COLUMNS])
        for r in rows:
            ds.append([float(r[c]) if c == "amount" and r[c] is not None else _cell(r[c]) for c in EXPORT_COLUMNS])
        wb.save(tmp)

    def _styled(ws: Any, value: Any, **style: Any) -> Any:
        cell = WriteOnlyCell(ws, value=value)
        for name, v in style.items():
            setattr(cell, name, v)
        return cell

    _atomic_write(path, write)


def load_rules(conn: psycopg.Connection) -> dict[str, dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return {r["code"]: r for r in cur.execute(_RULES_SQL).fetchall()}


def fetch_suspects(conn: psycopg.Connection, period: str) -> list[dict[str, Any]]:
    return [row for _, rows in iter_institution_suspects(conn, period) for row in rows]


def iter_institution_suspects(conn: psycopg.Connection, period: str) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(fixmedins_code, its export rows) per institution, streamed from the server in
    institution order: memory holds one institution's month, not the city's."""
    start, end = period_bounds(period)
    code: str | None = None
    mine: list[dict[str, Any]] = []
    with conn.cursor(row_factory=dict_row) as cur:
        for rec in cur.stream(_SUSPECTS_SQL, {"start": start, "end": end}):
            if rec["fixmedins_code"] != code:
                if code is not None:
                    yield code, mine
                code, mine = rec["fixmedins_code"], []
            mine.append(_export_row(rec))
    if code is not None:
        yield code, mine


def fingerprint(rows: Sequence[dict[str, Any]], rules: dict[str, dict[str, Any]], fixmedins_code: str,
                period: str) -> str:
    """SHA-256 of everything the institution's two files are made of."""
    h = hashlib.sha256(f"{FILE_LAYOUT_VERSION}|{fixmedins_code}|{period}\n".encode())
    for code in sorted({r["rule_code"] for r in rows}):
        h.update(json.dumps(rules.get(code, {}), ensure_ascii=False, sort_keys=True, default=str).encode())
    h.update(b"\n")
    for r in rows:
        h.update(json.dumps([r[c] for c in EXPORT_COLUMNS], ensure_ascii=False, sort_keys=True, default=str).encode())
        h.update(b"\n")
    return h.hexdigest()


def _is_current(inst_dir: Path, paths: Sequence[Path], digest: str) -> bool:
    stored = inst_dir / FINGERPRINT_NAME
    try:
        return stored.read_text(encoding="ascii").strip() == digest and all(p.is_file() for p in paths)
    except (FileNotFoundError, UnicodeDecodeError):
        return False


def _write_fingerprint(inst_dir: Path, digest: str) -> None:
    def write(tmp: Path) -> None:
        tmp.write_text(digest + "\n", encoding="ascii")
    _atomic_write(inst_dir / FINGERPRINT_NAME, write)


def _remove_stale(period_dir: Path, keep: Iterable[str]) -> list[Path]:
    """Delete our files of institutions no longer having suspects in the period."""
    keep = set(keep)
    removed: list[Path] = []
    if not period_dir.is_dir():
        return removed
    for inst_dir in period_dir.iterdir():
        if not inst_dir.is_dir() or inst_dir.name in keep:
            continue
        for f in inst_dir.iterdir():
            if FILE_RE.match(f.name):
                f.unlink()
                removed.append(f)
        (inst_dir / FINGERPRINT_NAME).unlink(missing_ok=True)
        if not any(inst_dir.iterdir()):
            inst_dir.rmdir()
    return removed


def export_period(conn: psycopg.Connection, period: str, exports_dir: Path) -> list[InstitutionExport]:
    """Write every institution's CSV + XLSX for the month (those whose fingerprint
    still matches are left as they are); returns every institution's export."""
    rules = load_rules(conn)
    period_dir = exports_dir / period
    out: list[InstitutionExport] = []
    by_inst: set[str] = set()
    n_rows = n_rewritten = 0
    for code, mine in iter_institution_suspects(conn, period):
        by_inst.add(code)
        n_rows += len(mine)
        if not re.fullmatch(r"[A-Z0-9]+", code):
            # codes are validated on arrival; never let one become a path component otherwise
            raise ValueError(f"unexpected fixmedins_code {code!r} in marts.fct_violations")
        inst_dir = period_dir / code
        base = inst_dir / f"suspects_{code}_{period}"
        csv_path, xlsx_path = base.with_suffix(".csv"), base.with_suffix(".xlsx")
        digest = fingerprint(mine, rules, code, period)
        rewrite = not _is_current(inst_dir, (csv_path, xlsx_path), digest)
        if rewrite:
            # no fingerprint while the files change: a write that fails midway leaves none, so the
            # next export rewrites both even if the rows went back to what the old fingerprint says
            (inst_dir / FINGERPRINT_NAME).unlink(missing_ok=True)
            _write_csv(csv_path, mine)
            _write_xlsx(xlsx_path, mine, rules, code, period)
            _write_fingerprint(inst_dir, digest)
            n_rewritten += 1
        out.append(InstitutionExport(period, code, len(mine), sum((r["amount"] or Decimal(0)) for r in mine),
                                     csv_path, xlsx_path, rewrite))
    removed = _remove_stale(period_dir, by_inst)
    if not by_inst and period_dir.is_dir() and not any(period_dir.iterdir()):
        shutil.rmtree(period_dir)
    log.info("exports %s: %d institutions (%d rewritten, %d unchanged), %d suspects, %d stale files removed",
             period, len(out), n_rewritten, len(out) - n_rewritten, n_rows, len(removed))
    return out


def export_periods(conn: psycopg.Connection, periods: Iterable[str], exports_dir: Path) -> list[InstitutionExport]:
    out: list[InstitutionExport] = []
    for p in sorted(set(periods)):
        out += export_period(conn, p, exports_dir)
    return out


def read_csv_export(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))
