"""Corrected re-deliveries of one folder, for tests of the reload path (issue 5).

A re-delivery rewrites every file of one kind in a daily folder (same names,
encodings and column orders) and then a new manifest.json, as a hospital's
corrected extract would arrive. The helpers return the expected change of the
ground truth and, by default, rewrite ground_truth/violations.csv to match.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from synthetic.oracle import GT_COLUMNS
from synthetic.writer import file_entry, write_manifest

Rows = list[dict[str, str]]


@dataclass
class GroundTruthChange:
    date: str
    kind: str
    removed: Rows = field(default_factory=list)
    added: Rows = field(default_factory=list)


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
    folder = Path(out) / "daily" / date
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    entries = manifest["files"]
    new_entries = []
    for e in entries:
        name = e["name"]
        if not (name.startswith(kind) and name.endswith(".csv")):
            new_entries.append(e)
            continue
        path = folder / name
        header, rows, codec, bom, eol = _read(path, e.get("encoding"))
        rows = transform(rows)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator=eol)
        w.writerow(header)
        for r in rows:
            w.writerow([r.get(c, "") for c in header])
        path.write_bytes(buf.getvalue().encode("utf-8-sig" if codec == "utf-8" and bom else codec))
        new_entries.append(file_entry(path, e.get("encoding"), codec))
    (folder / "manifest.json").unlink()  # the folder is incomplete until the new manifest lands
    write_manifest(folder, manifest["business_date"], new_entries)


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
