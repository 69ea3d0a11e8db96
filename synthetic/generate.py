"""Demo-scale generation: world -> background -> plants -> oracle -> files."""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ingestion.contract import REFERENCE_KINDS
from synthetic.background import Background
from synthetic.builder import Builder
from synthetic.oracle import GT_COLUMNS, Oracle
from synthetic.plants import Plants
from synthetic.world import World, build_world
from synthetic.writer import FileStyle, write_file, write_manifest

DEMO = {"hospitals": 36, "pharmacies": 20, "persons": 20000,
        "per_day": {"outpatient": 480, "pharmacy": 110, "stays": 14}}
MIN_DAYS = 28


class GenerationError(RuntimeError):
    pass


@dataclass
class Result:
    out: Path
    start: dt.date
    days: int
    ground_truth: list[dict[str, str]]
    per_rule: dict[str, int]
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


_T0 = time.time()


def log(msg: str, quiet: bool = False) -> None:
    if not quiet:
        print(f"[synthetic {time.time() - _T0:6.1f}s cpu {time.process_time():6.1f}s] {msg}", file=sys.stderr, flush=True)


def _key(row: dict[str, str]) -> tuple[str, ...]:
    r = row["rule_code"]
    if r in ("R01", "R02", "R03"):
        return (r, row["psn_no"], row["period_start"])
    if r in ("R12", "R13", "R15"):
        return (r, row["mdtrt_id"])
    if r == "R10":
        return (r, row["fixmedins_code"], row["rxno"])
    return (r, row["fixmedins_code"], row["mdtrt_id"], row["feedetl_sn"])


def grain_key(row: dict[str, str]) -> tuple[str, ...]:
    """The grain key of a ground-truth row (audit-rules.md, 'Grain keys')."""
    full = {c: "" for c in GT_COLUMNS}
    full.update(row)
    return _key(full)


def generate(out: str | Path, start: dt.date | str = "2024-01-01", days: int = 60, seed: int = 42,
             encoding: str = "mix", scale: str = "demo", quiet: bool = False,
             params: dict[str, object] | None = None) -> Result:
    """Write deliveries + ground truth under `out`. Returns what was planted."""
    t0 = time.time()
    out = Path(out)
    start = dt.date.fromisoformat(start) if isinstance(start, str) else start
    if scale == "city":
        from synthetic.city import generate_city

        return generate_city(out, start, days, seed, encoding, quiet)
    if scale != "demo":
        raise ValueError(f"unknown scale {scale!r}")
    if days < MIN_DAYS:
        raise ValueError(f"demo scale needs at least {MIN_DAYS} days (plants span a month), got {days}")
    p = {**DEMO, **(params or {})}
    rng = random.Random(seed)
    log(f"world: {p['hospitals']} hospitals, {p['pharmacies']} pharmacies, {p['persons']} persons", quiet)
    w = build_world(rng, start, days, int(p["hospitals"]), int(p["pharmacies"]), int(p["persons"]))  # type: ignore[arg-type]
    b = Builder(w, rng)
    log(f"background: {days} days from {start}", quiet)
    Background(b, rng, p["per_day"]).run()  # type: ignore[arg-type]
    plants = Plants(b, rng)
    plants.run()
    log("ground truth: judging every rule over the generated events", quiet)
    oracle = Oracle(w, b.ev)
    gt = oracle.run()
    _check(gt, plants)
    plants.corrections["create"] = _creatable(w, b, oracle, gt)
    log(f"writing deliveries into {out}", quiet)
    counts = write_all(out, w, b, rng, encoding, quiet)
    _write_truth(out, gt, plants)
    per_rule = dict(sorted(Counter(r["rule_code"] for r in gt).items()))
    res = Result(out, start, days, gt, per_rule, counts, time.time() - t0)
    log(f"done in {res.seconds:.1f}s: {counts}; suspects per rule {per_rule}", quiet)
    return res


def _check(gt: list[dict[str, str]], plants: Plants) -> None:
    found = {_key(r) for r in gt}
    want = {grain_key(k) for k in plants.expected}
    near = {grain_key({k: v for k, v in n.items() if k != "note"}) for n in plants.near}
    problems = []
    if found - want:
        problems.append(f"unplanned suspects (background not clean): {sorted(found - want)[:10]}")
    if want - found:
        problems.append(f"planted but not found: {sorted(want - found)}")
    if found & near:
        problems.append(f"near misses flagged: {sorted(found & near)}")
    missing = {f"R{i:02d}" for i in range(1, 17)} - {r["rule_code"] for r in gt}
    if missing:
        problems.append(f"rules without a planted suspect: {sorted(missing)}")
    if problems:
        raise GenerationError("; ".join(problems))


def _creatable(w: World, b: Builder, oracle: Oracle, gt: list[dict[str, str]]) -> dict[str, str]:
    """A clean background HIS service line whose price a correction can push over its cap (new R09)."""
    flagged = {(r["fixmedins_code"], r["mdtrt_id"]) for r in gt}
    for n in oracle.net:
        fl = n.line
        if (fl.source != "his" or fl.list_type != "201" or n.cnt != fl.cnt or fl.mdtrt_id in oracle.cancelled
                or (fl.fixmedins_code, fl.mdtrt_id) in flagged or fl.psn_no > f"33020{w.bg_persons:015d}"):
            continue
        item = w.as_of("ref_med_list", fl.med_list_codg, fl.fee_ocur_time.date())
        if not item or item["max_pric"] is None or item["lmt_gend"]:
            continue
        if any(x.mdtrt_id == fl.mdtrt_id and x.init_feedetl_sn for x in b.by_visit[fl.mdtrt_id]):
            continue
        new_pric = (item["max_pric"] + 1)  # type: ignore[operator]
        amount = f"{(new_pric - item['max_pric']) * fl.cnt:.2f}"
        return {"date": fl.folder.isoformat(), "kind": "his_feedetail", "fixmedins_code": fl.fixmedins_code,
                "mdtrt_id": fl.mdtrt_id, "feedetl_sn": fl.feedetl_sn, "new_pric": f"{new_pric:.6f}",
                "cnt": format(fl.cnt, "f"), "amount": amount}
    raise GenerationError("no background line to build a 'create' correction from")


# ---- files --------------------------------------------------------------------------------
def write_reference(out: Path, w: World, rng: random.Random, encoding: str) -> None:
    for which, date in (("first", w.ref0), ("mid", w.ref_mid)):
        folder = out / "reference" / date.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        entries = []
        for kind in REFERENCE_KINDS:
            if which == "mid" and not w.mid.get(kind.name):
                continue  # unchanged kinds are absent from the later folder
            rows = sorted(w.snapshot(kind.name, which), key=lambda r: str(r[kind.key[0]]) + str(r.get(kind.key[-1])))
            style = FileStyle(rng, encoding, kind.name, vary=kind.name != "ref_psn")
            entries.append(write_file(folder / f"{kind.name}.csv", style, rows))
        write_manifest(folder, date, entries)


def write_all(out: Path, w: World, b: Builder, rng: random.Random, encoding: str, quiet: bool = False) -> dict[str, int]:
    out.mkdir(parents=True, exist_ok=True)
    write_reference(out, w, rng, encoding)
    per_folder: dict[dt.date, dict[str, list[dict[str, object]]]] = defaultdict(lambda: defaultdict(list))
    for v in b.ev.visits:
        if v.source == "his":
            per_folder[v.folder]["his_mdtrt"].append(v.row())
            for dtype, srt, code, name, main in v.diags:
                per_folder[v.folder]["his_diag"].append({"mdtrt_id": v.mdtrt_id, "diag_type": dtype, "diag_srt_no": srt,
                                                         "diag_code": code, "diag_name": name, "maindiag_flag": main,
                                                         "_inst": v.fixmedins_code})
    for fl in b.ev.lines:
        per_folder[fl.folder]["his_feedetail" if fl.source == "his" else "pharmacy_sales"].append(fl.row())
    for s in b.ev.setls:
        per_folder[s.folder]["setl"].append(s.row())
    counts: Counter[str] = Counter()
    for i in range(w.days):
        d = w.day(i)
        folder = out / "daily" / d.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        entries = []
        for kind in ("his_mdtrt", "his_diag", "his_feedetail", "pharmacy_sales", "setl"):
            rows = per_folder[d][kind]
            counts[kind] += len(rows)
            split = {"his_feedetail": i % 2 == 0, "pharmacy_sales": i % 2 == 1,
                     "his_mdtrt": i % 3 == 0, "his_diag": i % 3 == 0, "setl": i % 5 == 4}[kind]
            entries += _write_kind(folder, kind, rows, split, rng, encoding)
        write_manifest(folder, d, entries)
        if (i + 1) % 10 == 0 or i + 1 == w.days:
            log(f"  daily folders {i + 1}/{w.days}", quiet)
    return dict(counts)


def _write_kind(folder: Path, kind: str, rows: list[dict[str, object]], split: bool, rng: random.Random,
                encoding: str) -> list[dict[str, object]]:
    if not split or not rows:
        return [write_file(folder / f"{kind}.csv", FileStyle(rng, encoding, kind), rows)]
    # a few institutions send their own file, everybody else is in the merged one
    groups: dict[str, list[dict[str, object]]] = defaultdict(list)
    for r in rows:
        inst = str(r.get("fixmedins_code") or r.get("_inst"))
        groups[inst if int(inst[-5:]) % 4 == 1 else ""].append(r)
    return [write_file(folder / (f"{kind}_{inst}.csv" if inst else f"{kind}.csv"), FileStyle(rng, encoding, kind), g)
            for inst, g in sorted(groups.items())]


def _write_truth(out: Path, gt: list[dict[str, str]], plants: Plants) -> None:
    folder = out / "ground_truth"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "violations.csv", "w", newline="", encoding="utf-8") as fh:
        wr = csv.DictWriter(fh, GT_COLUMNS, lineterminator="\n")
        wr.writeheader()
        wr.writerows(gt)
    near_cols = [*GT_COLUMNS[:-1], "note"]
    with open(folder / "near_misses.csv", "w", newline="", encoding="utf-8") as fh:
        wr = csv.DictWriter(fh, near_cols, lineterminator="\n", restval="")
        wr.writeheader()
        wr.writerows(sorted(plants.near, key=lambda r: (r["rule_code"], r["note"])))
    (folder / "plants.json").write_text(json.dumps({"corrections": plants.corrections}, ensure_ascii=False, indent=1),
                                        encoding="utf-8")


__all__ = ["generate", "grain_key", "GenerationError", "Result"]
