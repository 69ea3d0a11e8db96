"""Corrected re-deliveries of one folder, for tests of the reload path (issue 5).

A re-delivery rewrites every file of one kind in a daily folder (same names,
encodings and column orders) and then a new manifest.json, as a hospital's
corrected extract would arrive. The helpers return the expected change of the
ground truth and, by default, rewrite ground_truth/violations.csv to match.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from synthetic.oracle import GT_COLUMNS, THRESHOLDS
from synthetic.writer import file_entry, write_manifest

Rows = list[dict[str, str]]
DAILY_KINDS = ("his_mdtrt", "his_diag", "his_feedetail", "pharmacy_sales", "setl")


@dataclass
class GroundTruthChange:
    date: str
    kind: str
    removed: Rows = field(default_factory=list)
    added: Rows = field(default_factory=list)
    kinds: tuple[str, ...] = ()  # every kind the re-delivery rewrote (default: just `kind`)

    def __post_init__(self) -> None:
        self.kinds = self.kinds or (self.kind,)


def _read(path: Path, stated: str | None) -> tuple[list[str], Rows, str, bool, str]:
    data = path.read_bytes()
    bom = data.startswith(b"\xef\xbb\xbf")
    if stated == "GB18030":
        codec = "gb18030"
    else:
        try:
            data.decode("utf-8-sig")
            codec = "utf-8"
        except UnicodeDecodeError:
            codec = "gb18030"
    text = data.decode("utf-8-sig" if codec == "utf-8" else codec)
    eol = "\r\n" if "\r\n" in text.split("\n", 1)[0] + "\n" else "\n"
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    rows = [dict(zip(header, r, strict=True)) for r in reader]
    return header, rows, codec, bom, eol


def redeliver(out: str | Path, date: str, kind: str, transform: Callable[[Rows], Rows]) -> None:
    """Rewrite all `kind` files of daily/<date>/ through `transform` (rows of one file), then the manifest."""
    redeliver_kinds(out, date, {kind: lambda _name, rows: transform(rows)})


def redeliver_kinds(out: str | Path, date: str, transforms: dict[str, Callable[[str, Rows], Rows]]) -> None:
    """Rewrite the files of several kinds of daily/<date>/ (transform gets file name and rows), one manifest.

    All kinds land under one new manifest, as one corrected extract of the day would.
    """
    folder = Path(out) / "daily" / date
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    new_entries = []
    for e in manifest["files"]:
        name = e["name"]
        kind = _kind_of(name)
        if kind not in transforms:
            new_entries.append(e)
            continue
        path = folder / name
        header, rows, codec, bom, eol = _read(path, e.get("encoding"))
        rows = transforms[kind](name, rows)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator=eol)
        w.writerow(header)
        for r in rows:
            w.writerow([r.get(c, "") for c in header])
        path.write_bytes(buf.getvalue().encode("utf-8-sig" if codec == "utf-8" and bom else codec))
        new_entries.append(file_entry(path, e.get("encoding"), codec))
    (folder / "manifest.json").unlink()  # the folder is incomplete until the new manifest lands
    write_manifest(folder, manifest["business_date"], new_entries)


def _kind_of(name: str) -> str | None:
    """The daily kind of a file name (`his_feedetail.csv`, `his_feedetail_H33...csv`)."""
    if not name.endswith(".csv"):
        return None
    return next((k for k in DAILY_KINDS if name == f"{k}.csv" or name.startswith(f"{k}_")), None)


def _scan(out: Path, kind: str, keep: Callable[[dict[str, str]], bool]) -> list[tuple[str, dict[str, str]]]:
    """(folder date, row) of every delivered `kind` row that `keep` accepts, over all daily folders."""
    found = []
    for folder in sorted((out / "daily").iterdir()):
        manifest = folder / "manifest.json"
        if not manifest.is_file():
            continue
        for e in json.loads(manifest.read_text(encoding="utf-8"))["files"]:
            if _kind_of(e["name"]) == kind:
                found += [(folder.name, r) for r in _read(folder / e["name"], e.get("encoding"))[1] if keep(r)]
    return found


def _plants(out: Path) -> dict[str, dict[str, str]]:
    return json.loads((out / "ground_truth" / "plants.json").read_text(encoding="utf-8"))["corrections"]


def _truth(out: Path) -> Rows:
    with open(out / "ground_truth" / "violations.csv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _write_truth(out: Path, rows: Rows) -> None:
    rows = sorted(rows, key=lambda r: tuple(r[c] for c in GT_COLUMNS))
    with open(out / "ground_truth" / "violations.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, GT_COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def _is(r: dict[str, str], c: dict[str, str]) -> bool:
    return all(r.get(k) == c[k] for k in ("fixmedins_code", "mdtrt_id", "feedetl_sn"))


def correction_remove_case(out: str | Path, update_ground_truth: bool = True) -> GroundTruthChange:
    """Re-deliver one day's his_feedetail without the line of a planted R09 suspect."""
    out = Path(out)
    c = _plants(out)["remove"]
    redeliver(out, c["date"], c["kind"], lambda rows: [r for r in rows if not _is(r, c)])
    truth = _truth(out)
    removed = [r for r in truth if r["rule_code"] == "R09" and _is(r, c)]
    if update_ground_truth:
        _write_truth(out, [r for r in truth if r not in removed])
    return GroundTruthChange(c["date"], c["kind"], removed=removed)


def correction_create_case(out: str | Path, update_ground_truth: bool = True) -> GroundTruthChange:
    """Re-deliver one day's his_feedetail with a clean line's price raised over its cap (a new R09 suspect)."""
    out = Path(out)
    c = _plants(out)["create"]

    def bump(rows: Rows) -> Rows:
        for r in rows:
            if _is(r, c):
                r["pric"] = c["new_pric"]
                amt = (Decimal(r["cnt"]) * Decimal(c["new_pric"])).quantize(Decimal("0.01"), ROUND_HALF_UP)
                r["det_item_fee_sumamt"] = format(amt, "f")
        return rows

    redeliver(out, c["date"], c["kind"], bump)
    row = {k: "" for k in GT_COLUMNS}
    row.update(rule_code="R09", fixmedins_code=c["fixmedins_code"], mdtrt_id=c["mdtrt_id"],
               feedetl_sn=c["feedetl_sn"], amount=c["amount"])
    if update_ground_truth:
        _write_truth(out, [*_truth(out), row])
    return GroundTruthChange(c["date"], c["kind"], added=[row])


# ---- window rules (R01/R03 person-months): corrections whose effect depends on other days' rows ----------------
NEAR_COLUMNS = [*GT_COLUMNS[:-1], "note"]


@dataclass
class _Visit:
    folder: str
    fixmedins_code: str
    mdtrt_id: str
    begin: str  # "YYYY-MM-DD HH:MM:SS": text order = time order
    fund: Decimal = Decimal(0)
    setl_folders: set[str] = field(default_factory=set)
    cancelled: bool = False


def _near(out: Path) -> Rows:
    with open(out / "ground_truth" / "near_misses.csv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _write_near(out: Path, rows: Rows) -> None:
    rows = sorted(rows, key=lambda r: (r["rule_code"], r["note"]))
    with open(out / "ground_truth" / "near_misses.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, NEAR_COLUMNS, lineterminator="\n", restval="")
        w.writeheader()
        w.writerows(rows)


def _person_months(out: Path, psns: set[str], med_type: str) -> dict[tuple[str, str], list[_Visit]]:
    """The persons' live visits of med_type per (psn_no, month's first day), in rank order (begin, mdtrt_id),
    read from the delivered files as the rules read them: HIS visits from his_mdtrt, pharmacy sales from
    their original lines (begin = earliest line), fund = sum of settlements, cancelled = all reversed."""
    visits: dict[tuple[str, str], _Visit] = {}
    psn_of: dict[tuple[str, str], str] = {}
    if med_type == "41":
        lines = _scan(out, "pharmacy_sales", lambda r: r["psn_no"] in psns and not r["init_feedetl_sn"])
        for folder, r in sorted(lines, key=lambda x: (x[1]["fee_ocur_time"], x[1]["feedetl_sn"])):
            key = (r["fixmedins_code"], r["mdtrt_id"])
            if key not in visits:  # the sale's first line decides psn_no and med_type
                visits[key] = _Visit(folder, *key, r["fee_ocur_time"])
                psn_of[key] = r["psn_no"] if r["med_type"] == med_type else ""
            visits[key].folder = min(visits[key].folder, folder)
    else:
        for folder, r in _scan(out, "his_mdtrt", lambda r: r["psn_no"] in psns and r["med_type"] == med_type):
            key = (r["fixmedins_code"], r["mdtrt_id"])
            visits[key] = _Visit(folder, *key, r["begntime"])
            psn_of[key] = r["psn_no"]
    originals: dict[tuple[str, str], set[str]] = {}
    reversed_ids: set[str] = set()
    for folder, s in _scan(out, "setl", lambda r: r["psn_no"] in psns):
        key = (s["fixmedins_code"], s["mdtrt_id"])
        if key not in visits:
            continue
        visits[key].fund += Decimal(s["fund_pay_sumamt"])
        visits[key].setl_folders.add(folder)
        if s["refd_setl_flag"] == "1":
            reversed_ids.add(s["init_setl_id"])
        else:
            originals.setdefault(key, set()).add(s["setl_id"])
    months: dict[tuple[str, str], list[_Visit]] = {}
    for key, v in visits.items():
        v.cancelled = bool(originals.get(key)) and originals[key] <= reversed_ids
        if psn_of[key] and not v.cancelled:
            months.setdefault((psn_of[key], v.begin[:7] + "-01"), []).append(v)
    for vs in months.values():
        vs.sort(key=lambda v: (v.begin, v.mdtrt_id))
    return months


def _registered(out: Path, psn: str, day: str) -> bool:
    """An active special-disease registration (any type) on `day`, in the reference snapshot valid that day."""
    snapshots = sorted(f for f in (out / "reference").iterdir()
                       if f.name <= day and (f / "ref_psn_special_dise.csv").is_file())
    if not snapshots:
        return False
    rows = _read(snapshots[-1] / "ref_psn_special_dise.csv", None)[1]
    return any(r["psn_no"] == psn and r["begn_date"] <= day and (not r["end_date"] or day <= r["end_date"])
               for r in rows)


def _person_month_row(rule: str, psn: str, period_start: str, amount: Decimal | None = None) -> dict[str, str]:
    row = {k: "" for k in GT_COLUMNS}
    row.update(rule_code=rule, psn_no=psn, period_start=period_start)
    if amount is not None:
        row["amount"] = format(amount.quantize(Decimal("0.01")), "f")
    return row


def _bump_id(value: str, prefix_len: int) -> str:
    """A new id of the same shape: the first digit after the prefix set to 9 (the generator's counters are far
    below that, so the id is unused and keeps its width)."""
    assert value[prefix_len] == "0", f"cannot derive an unused id from {value}"
    return f"{value[:prefix_len]}9{value[prefix_len + 1:]}"


def correction_remove_window_case(out: str | Path, update_ground_truth: bool = True) -> GroundTruthChange:
    """Re-deliver one past day without one visit of a planted R01 person-month (his_mdtrt, his_diag,
    his_feedetail and setl rows of that visit, consistently): the month falls to the threshold, the suspect
    goes. The other visits of the month sit in other folders, so only a rule that recomputes the whole
    month from every folder drops it."""
    out = Path(out)
    truth = _truth(out)
    planted = {(r["psn_no"], r["period_start"]): r for r in truth if r["rule_code"] == "R01"}
    months = _person_months(out, {p for p, _ in planted}, "14")
    key = min(planted, key=lambda k: (len(months[k]), k))
    visits = months[key]
    # at most the lower threshold afterwards: no suspect whatever the person's registration
    assert len(visits) - 1 <= THRESHOLDS["R01"] < len(visits), f"R01 {key}: {len(visits)} visits"
    gone = visits[len(visits) // 2]
    assert gone.setl_folders == {gone.folder}, "the visit's settlements must all sit in its own folder"
    others = {v.folder for v in visits if v is not gone}
    assert others - {gone.folder}, "the month's other visits should lie in other folders"

    def drop(_name: str, rows: Rows) -> Rows:
        return [r for r in rows if not (r["mdtrt_id"] == gone.mdtrt_id
                                        and r.get("fixmedins_code", gone.fixmedins_code) == gone.fixmedins_code)]

    kinds = ("his_mdtrt", "his_diag", "his_feedetail", "setl")
    redeliver_kinds(out, gone.folder, dict.fromkeys(kinds, drop))
    removed = [planted[key]]
    if update_ground_truth:
        _write_truth(out, [r for r in truth if r is not planted[key]])
        note = f"{len(visits)} visits, one withdrawn by a corrected delivery of {gone.folder} -> {len(visits) - 1}"
        near = {c: v for c, v in _person_month_row("R01", *key).items() if c in NEAR_COLUMNS}
        _write_near(out, [*_near(out), {**near, "note": note}])
    return GroundTruthChange(gone.folder, "his_mdtrt", removed=removed, kinds=kinds)


def correction_create_window_case(out: str | Path, update_ground_truth: bool = True) -> GroundTruthChange:
    """Re-deliver one past day with one more pharmacy sale (pharmacy_sales lines + setl) of a registered
    person who had exactly the R03 threshold in that month (a planted near miss): a new R03 suspect.

    The new sale is a copy of the person's middle sale of the month, one hour earlier on the same day, so it
    ranks before the later sales: the suspect's amount is the fund of the sale ranked threshold + 1, which
    lies in a later folder than the re-delivered one. Same drug, same day, same price: no other rule fires.
    """
    out = Path(out)
    thr = THRESHOLDS["R03"]
    near = [r for r in _near(out) if r["rule_code"] == "R03"]
    months = _person_months(out, {r["psn_no"] for r in near}, "41")
    candidates = sorted((r["psn_no"], r["period_start"]) for r in near
                        if len(months.get((r["psn_no"], r["period_start"]), [])) == thr
                        and _registered(out, r["psn_no"], r["period_start"]))
    assert candidates, "no registered R03 near miss at the threshold"
    key = candidates[0]
    sales = months[key]
    src = sales[len(sales) // 2]
    assert src.setl_folders == {src.folder}
    shift = dt.timedelta(hours=1)

    def earlier(ts: str) -> str:
        t = dt.datetime.fromisoformat(ts) - shift
        assert t.date().isoformat() == ts[:10], "the copy must stay on the same day"
        return t.strftime("%Y-%m-%d %H:%M:%S")

    new_mdtrt = _bump_id(src.mdtrt_id, 9)  # S + YYYYMMDD + 9 digits
    copy = _Visit(src.folder, src.fixmedins_code, new_mdtrt, earlier(src.begin), src.fund)

    def of_src(r: dict[str, str]) -> bool:
        return r["mdtrt_id"] == src.mdtrt_id and r["fixmedins_code"] == src.fixmedins_code

    def add_lines(_name: str, rows: Rows) -> Rows:
        new = [{**r, "mdtrt_id": new_mdtrt, "feedetl_sn": _bump_id(r["feedetl_sn"], 0),
                "fee_ocur_time": earlier(r["fee_ocur_time"]),
                "rxno": _bump_id(r["rxno"], 2) if r["rxno"] else ""} for r in rows if of_src(r)]
        assert all(not r["init_feedetl_sn"] for r in new)
        return rows + new

    def add_setl(_name: str, rows: Rows) -> Rows:
        new = [{**r, "mdtrt_id": new_mdtrt, "setl_id": _bump_id(r["setl_id"], 10),
                "setl_time": earlier(r["setl_time"])} for r in rows if of_src(r)]
        assert all(r["refd_setl_flag"] != "1" for r in new)
        return rows + new

    redeliver_kinds(out, src.folder, {"pharmacy_sales": add_lines, "setl": add_setl})
    ranked = sorted([*sales, copy], key=lambda v: (v.begin, v.mdtrt_id))
    row = _person_month_row("R03", *key, sum((v.fund for v in ranked[thr:]), Decimal(0)))
    if update_ground_truth:
        _write_truth(out, [*_truth(out), row])
        _write_near(out, [r for r in _near(out) if not (r["rule_code"] == "R03" and (r["psn_no"], r["period_start"]) == key)])
    return GroundTruthChange(src.folder, "pharmacy_sales", added=[row], kinds=("pharmacy_sales", "setl"))


# ---- R05 (earlier dispensings): a correction of an earlier folder moves a later folder's verdict -----------------
def correction_remove_refill_case(out: str | Path, update_ground_truth: bool = True) -> GroundTruthChange:
    """Re-deliver the earlier folder of a planted R05 case with its earlier dispensing's days of supply cut so
    that exactly the threshold remains on the later line's day (at the threshold = not a suspect). The later
    line sits in a later folder and does not change: only a build that re-judges the person's later
    dispensings from the corrected date on drops the suspect."""
    out = Path(out)
    truth = _truth(out)
    planted = [r for r in truth if r["rule_code"] == "R05"]
    keys = {(r["fixmedins_code"], r["mdtrt_id"], r["feedetl_sn"]) for r in planted}
    kinds = ("his_feedetail", "pharmacy_sales")
    # line suspects carry no psn_no in the ground truth: the persons come from the lines
    psns = {r["psn_no"] for kind in kinds
            for _, r in _scan(out, kind, lambda r: (r["fixmedins_code"], r["mdtrt_id"], r["feedetl_sn"]) in keys)}
    lines = [(folder, kind, r) for kind in kinds for folder, r in _scan(out, kind, lambda r: r["psn_no"] in psns)]
    by_drug: dict[tuple[str, str], list[tuple[str, str, dict[str, str]]]] = {}
    for folder, kind, r in lines:
        by_drug.setdefault((r["psn_no"], r["med_list_codg"].strip().upper()), []).append((folder, kind, r))
    judged = {(r["fixmedins_code"], r["mdtrt_id"], r["feedetl_sn"]) for r in truth if r["feedetl_sn"]}

    def fee_date(r: dict[str, str]) -> dt.date:
        return dt.date.fromisoformat(r["fee_ocur_time"][:10])

    for case in sorted(planted, key=lambda r: (r["fixmedins_code"], r["mdtrt_id"], r["feedetl_sn"])):
        group = next((g for g in by_drug.values() if any(_is(r, case) for _, _, r in g)), [])
        if len(group) != 2 or any(r["init_feedetl_sn"] for _, _, r in group):
            continue  # one earlier dispensing and no refunds: the cut moves this verdict and no other
        (f1, kind1, first), (f2, _, second) = sorted(group, key=lambda x: (fee_date(x[2]), x[2]["feedetl_sn"]))
        if not _is(second, case) or f1 == f2 or fee_date(first) >= fee_date(second):
            continue
        if (first["fixmedins_code"], first["mdtrt_id"], first["feedetl_sn"]) in judged:
            continue  # the earlier line must not be a suspect itself (R04 reads its days of supply)
        new_days = (fee_date(second) - fee_date(first)).days + THRESHOLDS["R05"]
        if not 0 < new_days < int(first["prd_days"]):
            continue
        break
    else:
        raise AssertionError("no planted R05 case with a single earlier dispensing in an earlier folder")

    def cut(rows: Rows) -> Rows:
        for r in rows:
            if _is(r, first):
                r["prd_days"] = str(new_days)
        return rows

    redeliver(out, f1, kind1, cut)
    if update_ground_truth:
        _write_truth(out, [r for r in truth if r is not case])
    return GroundTruthChange(f1, kind1, removed=[case])
