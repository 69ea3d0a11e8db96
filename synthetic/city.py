"""City scale: one business day of a large city, streamed straight to files.

Nothing is kept per visit once it is written, persons are derived from their
index (gender, birthday, name) so ref_psn and the daily extracts agree without
holding 3 million rows, and money is integer cents. The background is clean
by construction (each person at most one visit that day, stays and outpatient
visits drawn from disjoint person ranges, only unrestricted catalogue items at
their base price, active physicians of the institution, no deaths); a sparse
set of R04/R09/R16 line plants gives a ground truth whose amounts are computed
as they are planted.
"""

from __future__ import annotations

import csv
import datetime as dt
import multiprocessing
import random
import sys
import time
from collections import Counter
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

from synthetic import catalog
from synthetic.oracle import GT_COLUMNS, _q
from synthetic.writer import CsvSink, FileStyle, fmt, write_manifest

CITY = {"hospitals": 900, "pharmacies": 600, "persons": 3_000_000, "outpatient": 405_000, "sales": 80_000,
        "stays": 15_000, "plants_per_rule": 5}
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
RATIO = {"11": (50, 45), "14": (75, 65), "21": (82, 68), "41": (30, 20)}  # percent, (310, 390)


def _log(msg: str, quiet: bool) -> None:
    if not quiet:
        print(f"[synthetic city] {msg}", file=sys.stderr, flush=True)


def _cents(s: str) -> int:
    return int((Decimal(s) * 100).to_integral_value())


def _yuan(c: int) -> str:
    sign = "-" if c < 0 else ""
    c = abs(c)
    return f"{sign}{c // 100}.{c % 100:02d}"


class People:
    """Person attributes as pure functions of the index: nothing stored."""

    def __init__(self, rng: random.Random, start: dt.date) -> None:
        self.birthdays = [start - dt.timedelta(days=int(rng.triangular(400, 32000, 15000))) for _ in range(6000)]
        self.birthdays = [b if (b.month, b.day) != (2, 29) else b - dt.timedelta(days=1) for b in self.birthdays]
        self.names = [rng.choice(catalog.SURNAMES) + "".join(rng.choice(catalog.GIVEN) for _ in range(rng.choice((1, 2))))
                      for _ in range(20000)]
        self.iso = [b.isoformat() for b in self.birthdays]
        # certno prefix (region + birthday) and its weighted sum, per (region, birthday)
        self.prefix: dict[tuple[str, int], tuple[str, int]] = {}
        for region in catalog.REGIONS:
            for bi, b in enumerate(self.birthdays):
                pre = f"{region}{b:%Y%m%d}"
                self.prefix[(region, bi)] = (pre, sum(int(d) * w for d, w in zip(pre, WEIGHTS[:14], strict=True)))
        self.seq_sum = [(f"{q:03d}", (q // 100) * 8 + ((q // 10) % 10) * 4 + (q % 10) * 2) for q in range(1000)]

    @staticmethod
    def mix(i: int) -> int:
        return (i * 2654435761 + 12345) & 0xFFFFFFFF

    def attrs(self, i: int) -> tuple[str, int, str]:
        h = self.mix(i)
        return ("1" if h & 1 else "2"), (h >> 3) % len(self.birthdays), catalog.REGIONS[(h >> 20) % len(catalog.REGIONS)]

    def row(self, i: int) -> list[str]:
        h = (i * 2654435761 + 12345) & 0xFFFFFFFF
        gend = "1" if h & 1 else "2"
        bi = (h >> 3) % len(self.birthdays)
        region = catalog.REGIONS[(h >> 20) % len(catalog.REGIONS)]
        pre, psum = self.prefix[(region, bi)]
        s3, ssum = self.seq_sum[((h >> 9) % 500) * 2 + (h & 1)]
        return [f"33020{i:015d}", f"{pre}{s3}{'10X98765432'[(psum + ssum) % 11]}", self.names[h % 20000], gend,
                self.iso[bi], "310" if h % 5 < 3 else "390", ("11", "21", "31")[h % 3], region, ""]

    def insutype(self, i: int) -> str:
        return "310" if self.mix(i) % 5 < 3 else "390"


def _write_psn(path: Path, style: FileStyle, people: People, n: int, send, t0: float, quiet: bool) -> None:  # noqa: ANN001
    sink = CsvSink(path, style)

    def rows():  # noqa: ANN202
        for i in range(1, n + 1):
            yield people.row(i)
            if i % 1_000_000 == 0:
                _log(f"  ref_psn {i:,}/{n:,} ({time.time() - t0:.0f}s)", quiet)

    sink.write_tuples(rows())
    send.send(sink.close())


def generate_city(out: Path, start: dt.date, days: int, seed: int, encoding: str, quiet: bool = False,
                  params: dict[str, int] | None = None):  # noqa: ANN201 - returns synthetic.generate.Result
    from synthetic.generate import Result

    if days != 1:
        raise ValueError("city scale writes one day: use --days 1")
    t0 = time.time()
    p = {**CITY, **(params or {})}
    rng = random.Random(seed)
    people = People(random.Random(seed * 7919 + 1), start)
    day = start.isoformat()
    ref_date = start - dt.timedelta(days=31)  # predates the earliest admission (stays last <= 30 days)
    ref = out / "reference" / ref_date.isoformat()
    ref.mkdir(parents=True, exist_ok=True)

    def sink(folder: Path, kind: str, name: str | None = None, vary: bool = False) -> CsvSink:
        return CsvSink(folder / (name or f"{kind}.csv"), FileStyle(rng, encoding, kind, vary=vary))

    # ---- reference ---------------------------------------------------------------------------
    entries = []
    s = sink(ref, "ref_disease")
    for code, name, chapter, _cls in catalog.DISEASES:
        s.write({"dise_codg": code, "dise_name": name, "chapter": chapter})
    entries.append(s.close())
    from synthetic.world import build_world

    mini = build_world(random.Random(seed), start, 30, 1, 1, 0)  # the demo catalogue, reused
    s = sink(ref, "ref_med_list")
    for r in mini.rows0["ref_med_list"].values():
        s.write(r)
    entries.append(s.close())
    items = mini.rows0["ref_med_list"]
    free = [c for c, r in items.items() if not (r["lmt_dise_codes"] or r["lmt_gend"] or r["lmt_age_min"] is not None
                                                 or r["lmt_age_max"] is not None)]
    drugs = [c for c in free if items[c]["list_type"] == "101" and items[c]["chrgitm_lv"] != "3"]
    capped_drugs = [c for c in drugs if items[c]["max_pric"] is not None and items[c]["max_days"] is None]
    herbs = [c for c in free if items[c]["list_type"] == "102" and items[c]["precious_flag"] == "0"]
    services = [c for c in free if items[c]["list_type"] == "201" and items[c]["chrgitm_lv"] != "3"]
    price = {c: _cents(str(mini.base_price[c])) for c in items}
    price_s = {c: _yuan(price[c]) for c in items}
    list_type = {c: str(items[c]["list_type"]) for c in items}
    max_days = {c: items[c]["max_days"] for c in items}

    s_inst = sink(ref, "ref_medins")
    s_prac = sink(ref, "ref_practitioner")
    hospitals: list[tuple[str, list[tuple[str, str, str]], str]] = []  # code, [(dept, dname, prac)], lv
    pharmacies: list[tuple[str, list[str]]] = []
    per_region: Counter[str] = Counter()
    prac_seq: Counter[str] = Counter()
    for k in range(p["hospitals"] + p["pharmacies"]):
        region = catalog.REGIONS[k % len(catalog.REGIONS)]
        per_region[region] += 1
        is_h = k < p["hospitals"]
        code = f"{'H' if is_h else 'P'}{region}{per_region[region]:05d}"
        lv = ("3", "2", "2", "1", "1", "1")[k % 6] if is_h else "9"
        s_inst.write({"fixmedins_code": code, "fixmedins_name": f"{catalog.REGION_NAMES[region]}定点机构{k}",
                      "fixmedins_type": "1" if is_h else "2", "hosp_lv": lv, "admdvs": region,
                      "begn_date": "2019-01-01", "end_date": ""})
        staff = []
        if is_h:
            for dc, dn, _cls in catalog.DEPARTMENTS[: 3 + int(lv) * 2]:
                for _ in range(2 if lv == "1" else 4):
                    prac_seq[region] += 1
                    pc = f"D{region}{prac_seq[region]:06d}"
                    s_prac.write({"prac_codg": pc, "prac_name": people.names[prac_seq[region] % 20000], "prac_type": "1",
                                  "fixmedins_code": code, "dept_codg": dc, "begn_date": "2015-01-01", "end_date": ""})
                    staff.append((dc, dn, pc))
            hospitals.append((code, staff, lv))
        else:
            phs = []
            for _ in range(2):
                prac_seq[region] += 1
                pc = f"Y{region}{prac_seq[region]:06d}"
                s_prac.write({"prac_codg": pc, "prac_name": people.names[prac_seq[region] % 20000], "prac_type": "2",
                              "fixmedins_code": code, "dept_codg": "", "begn_date": "2016-01-01", "end_date": ""})
                phs.append(pc)
            pharmacies.append((code, phs))
    entries += [s_inst.close(), s_prac.close()]

    # ref_psn (3 million rows) is written by a forked child while this process writes the day
    psn_style = FileStyle(rng, encoding, "ref_psn", vary=False)
    n = p["persons"]
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_write_psn, args=(ref / "ref_psn.csv", psn_style, people, n, send, t0, quiet))
    child.start()
    s_reg = sink(ref, "ref_psn_special_dise")
    for i in range(1, n + 1, 20):  # 5% registered; nobody here is planted for R01/R03
        t = ("DIABETES", "HYPERTENSION", "TUMOR", "HEMIPLEGIA", "DIALYSIS")[i % 5]
        s_reg.write({"psn_no": f"33020{i:015d}", "dise_type": t, "dise_codg": catalog.SPECIAL_DISEASES[t][0],
                     "begn_date": "2022-01-01", "end_date": ""})
    entries.append(s_reg.close())
    _log(f"reference catalogues written, ref_psn in a child process ({time.time() - t0:.0f}s)", quiet)

    # ---- the day -----------------------------------------------------------------------------
    folder = out / "daily" / day
    folder.mkdir(parents=True, exist_ok=True)
    s_md = sink(folder, "his_mdtrt", vary=True)
    s_dg = sink(folder, "his_diag")
    s_fd = sink(folder, "his_feedetail")  # contract column order: line() builds rows in that order
    s_ps = sink(folder, "pharmacy_sales")
    s_st = sink(folder, "setl")
    cols = {k: s.style.columns for k, s in (("his_mdtrt", s_md), ("his_diag", s_dg), ("his_feedetail", s_fd),
                                             ("pharmacy_sales", s_ps), ("setl", s_st))}
    times = [f"{h:02d}:{m:02d}:{sec:02d}" for h in range(8, 18) for m in range(0, 60, 3) for sec in (7, 31, 52)]
    diseases = [d for d in catalog.DISEASES if d[0][:3] not in ("N40", "N76", "N92", "O26")]
    counters = Counter()
    gt: list[dict[str, str]] = []
    plant_every = max(1, p["outpatient"] // (p["plants_per_rule"] + 1))
    sn = 0
    # disjoint person ranges: stays from the top, everybody else a stride walk over the rest (distinct)
    stay_base = n - p["stays"]
    walk_n = stay_base
    stride = 1_000_003 if walk_n % 1_000_003 else 999_983

    def out_row(kind: str, d: dict[str, str]) -> list[str]:
        return [d.get(c, "") for c in cols[kind]]

    fee_rows: list[list[str]] = []
    sale_rows: list[list[str]] = []
    set_rows: list[list[str]] = []
    md_rows: list[list[str]] = []
    dg_rows: list[list[str]] = []

    def flush() -> None:
        s_fd.write_tuples(fee_rows)
        s_ps.write_tuples(sale_rows)
        s_st.write_tuples(set_rows)
        s_md.write_tuples(md_rows)
        s_dg.write_tuples(dg_rows)
        for lst in (fee_rows, sale_rows, set_rows, md_rows, dg_rows):
            lst.clear()

    def settle(mdtrt: str, psn: str, inst: str, ins: str, mt: str, when: str, total: int) -> None:
        pct = RATIO[mt][0 if ins == "310" else 1]
        hifp = (total * pct + 50) // 100
        sup = (total - 60000) // 10 if mt == "21" and total > 60000 else 0
        fund = hifp + sup
        acct = ((total - fund) * 6 + 5) // 10 if ins == "310" and mt != "21" else 0
        cash = total - fund - acct
        counters["setl"] += 1
        set_rows.append(out_row("setl", {
            "setl_id": f"ST{day.replace('-', '')}{counters['setl']:09d}", "mdtrt_id": mdtrt, "psn_no": psn,
            "fixmedins_code": inst, "insutype": ins, "med_type": mt, "setl_time": when, "medfee_sumamt": _yuan(total),
            "fulamt_ownpay_amt": "0.00", "overlmt_selfpay": "0.00", "inscp_scp_amt": _yuan(total),
            "hifp_pay": _yuan(hifp), "acct_pay": _yuan(acct), "psn_cash_pay": _yuan(cash),
            "fund_pay_sumamt": _yuan(fund), "refd_setl_flag": "0", "init_setl_id": ""}))

    fee_cols = cols["his_feedetail"]
    sale_cols = cols["pharmacy_sales"]

    def line(rows: list[list[str]], colset: list[str], mdtrt: str, psn: str, inst: str, mt: str, when: str,
             code: str, cnt: int, dept: str, dname: str, dr: str, rx: str, prd: str, pric: int | None = None) -> int:
        nonlocal sn
        sn += 1
        pc = price[code] if pric is None else pric
        amt = cnt * pc
        rows.append([f"{sn:012d}", "", mdtrt, psn, inst, mt, when, code, code[-8:], list_type[code], str(cnt),
                     price_s[code] if pric is None else _yuan(pric), amt_s.get(amt) or _amt(amt), dept, dname, dr, "", rx, prd, "0"])
        return amt

    amt_s: dict[int, str] = {}

    def _amt(c: int) -> str:
        amt_s[c] = _yuan(c)  # few distinct cnt x price products: format each once
        return amt_s[c]

    def plant(rule: str, inst: str, mdtrt: str, amount: Fraction | int) -> None:
        row = {c: "" for c in GT_COLUMNS}
        row.update(rule_code=rule, fixmedins_code=inst, mdtrt_id=mdtrt, feedetl_sn=f"{sn:012d}",
                   amount=str(_q(Fraction(amount) / 100)))
        gt.append(row)

    rand = rng.random
    rint = rng.randrange
    mdseq = 0
    # stays: admitted 1-30 days ago, discharged today, every fee line dated back to its day
    for k in range(p["stays"]):
        pi = stay_base + k + 1
        psn = f"33020{pi:015d}"
        ins = people.insutype(pi)
        inst, staff, _lv = hospitals[rint(len(hospitals))]
        dc, dn, dr = staff[rint(len(staff))]
        dise = diseases[rint(len(diseases))]
        los = 1 + rint(8)
        adm = start - dt.timedelta(days=los)
        mdseq += 1
        mdtrt = f"M{day.replace('-', '')}{mdseq:09d}"
        total = 0
        drug = drugs[rint(len(drugs))]
        for j in range(los + 1):
            dday = (adm + dt.timedelta(days=j)).isoformat()
            for code, hh in ((services[3], "08:00:00"), (services[4], "08:00:00"), (services[2], "09:00:00")):
                total += line(fee_rows, fee_cols, mdtrt, psn, inst, "21", f"{dday} {hh}", code, 1, dc, dn, dr, "", "")
            total += line(fee_rows, fee_cols, mdtrt, psn, inst, "21", f"{dday} 10:00:00", drug, 1 + rint(2), dc, dn, dr,
                          "", "1")
        md_rows.append(out_row("his_mdtrt", {
            "mdtrt_id": mdtrt, "psn_no": psn, "fixmedins_code": inst, "med_type": "21", "insutype": ins,
            "begntime": f"{adm.isoformat()} 10:12:00", "endtime": f"{day} 10:30:00", "dept_codg": dc,
            "dept_name": dn, "atddr_no": dr, "dise_codg": dise[0], "dise_name": dise[1], "ipt_otp_no": f"ZY{mdseq:09d}"}))
        dg_rows.append(out_row("his_diag", {"mdtrt_id": mdtrt, "diag_type": "1", "diag_srt_no": "1",
                                            "diag_code": dise[0], "diag_name": dise[1], "maindiag_flag": "1"}))
        settle(mdtrt, psn, inst, ins, "21", f"{day} 11:15:00", total)
    counters["stays"] = p["stays"]
    _log(f"stays {p['stays']:,} ({time.time() - t0:.0f}s)", quiet)
    walk = 0

    def next_person() -> int:
        nonlocal walk
        walk += 1
        return (walk * stride) % walk_n + 1

    for k in range(p["outpatient"]):
        pi = next_person()
        psn = f"33020{pi:015d}"
        ins = people.insutype(pi)
        inst, staff, _lv = hospitals[rint(len(hospitals))]
        dc, dn, dr = staff[rint(len(staff))]
        dise = diseases[rint(len(diseases))]
        mdseq += 1
        mdtrt = f"M{day.replace('-', '')}{mdseq:09d}"
        when = f"{day} {times[rint(len(times))]}"
        total = line(fee_rows, fee_cols, mdtrt, psn, inst, "11", when, services[0], 1, dc, dn, dr, "", "")
        rx = f"RX{mdseq:010d}"
        nd = 2 + rint(3)
        start_i = rint(len(drugs))
        planted = k % plant_every == plant_every // 2 and len(gt) < 3 * p["plants_per_rule"]
        for j in range(nd):
            code = drugs[(start_i + j * 7) % len(drugs)]
            limit = min(7, max_days[code] or 7)
            prd = 1 + rint(limit)
            total += line(fee_rows, fee_cols, mdtrt, psn, inst, "11", when, code, 1 + rint(3), dc, dn, dr, rx, str(prd))
        if planted:  # one line per rule, each on its own
            code = capped_drugs[k % len(capped_drugs)]
            cap = _cents(str(items[code]["max_pric"]))
            total += line(fee_rows, fee_cols, mdtrt, psn, inst, "11", when, code, 2, dc, dn, dr, rx, "3", pric=cap + 37)
            plant("R09", inst, mdtrt, 37 * 2)
            amt = line(fee_rows, fee_cols, mdtrt, psn, inst, "11", when, services[7], 1, dc, dn, "", "", "")
            total += amt
            plant("R16", inst, mdtrt, amt)
            code2 = next(c for c in capped_drugs if c != code and max_days[c] is None)
            amt = line(fee_rows, fee_cols, mdtrt, psn, inst, "11", when, code2, 2, dc, dn, dr, rx, "10")
            total += amt
            plant("R04", inst, mdtrt, Fraction(amt * 3, 10))
        for j in range(1 + rint(2)):
            total += line(fee_rows, fee_cols, mdtrt, psn, inst, "11", when, services[8 + (rint(25) + j * 26) % 27], 1,
                          dc, dn, dr, "", "")
        if rand() < 0.05:
            hrx = f"RH{mdseq:010d}"
            hs = rint(len(herbs))
            for j in range(6 + rint(10)):
                total += line(fee_rows, fee_cols, mdtrt, psn, inst, "11", when, herbs[(hs + j) % len(herbs)], 10, dc, dn,
                              dr, hrx, "")
        md_rows.append(out_row("his_mdtrt", {
            "mdtrt_id": mdtrt, "psn_no": psn, "fixmedins_code": inst, "med_type": "11", "insutype": ins,
            "begntime": when, "endtime": when, "dept_codg": dc, "dept_name": dn, "atddr_no": dr,
            "dise_codg": dise[0], "dise_name": dise[1], "ipt_otp_no": f"MZ{mdseq:09d}"}))
        dg_rows.append(out_row("his_diag", {"mdtrt_id": mdtrt, "diag_type": "1", "diag_srt_no": "1",
                                            "diag_code": dise[0], "diag_name": dise[1], "maindiag_flag": "1"}))
        settle(mdtrt, psn, inst, ins, "11", when, total)
        if k % 20000 == 0:
            flush()
        if k % 100_000 == 0 and k:
            _log(f"outpatient visits {k:,}/{p['outpatient']:,}, fee lines {sn:,} ({time.time() - t0:.0f}s)", quiet)
    for k in range(p["sales"]):
        pi = next_person()
        psn = f"33020{pi:015d}"
        ins = people.insutype(pi)
        inst, phs = pharmacies[rint(len(pharmacies))]
        when = f"{day} {times[rint(len(times))]}"
        sid = f"S{day.replace('-', '')}{k + 1:09d}"
        total = 0
        start_i = rint(len(drugs))
        for j in range(1 + rint(5)):
            code = drugs[(start_i + j * 5) % len(drugs)]
            prd = 7 + rint(min(30, max_days[code] or 30) - 6) if (max_days[code] or 30) >= 7 else max_days[code]
            total += line(sale_rows, sale_cols, sid, psn, inst, "41", when, code, 1 + rint(2), "", "",
                          phs[k % 2] if rand() < 0.7 else "", "", str(prd))
        settle(sid, psn, inst, ins, "41", when, total)
        if k % 20000 == 0:
            flush()
    flush()
    counters = Counter({"stays": p["stays"], "his_mdtrt": s_md.rows, "his_diag": s_dg.rows, "his_feedetail": s_fd.rows,
                     "pharmacy_sales": s_ps.rows, "setl": s_st.rows})
    write_manifest(folder, day, [s_md.close(), s_dg.close(), s_fd.close(), s_ps.close(), s_st.close()])
    entries.append(recv.recv())
    child.join()
    if child.exitcode != 0:
        raise RuntimeError(f"ref_psn writer failed with exit code {child.exitcode}")
    write_manifest(ref, ref_date, entries)
    gt_dir = out / "ground_truth"
    gt_dir.mkdir(parents=True, exist_ok=True)
    with open(gt_dir / "violations.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, GT_COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(sorted(gt, key=lambda r: tuple(r[c] for c in GT_COLUMNS)))
    with open(gt_dir / "near_misses.csv", "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerow([*GT_COLUMNS[:-1], "note"])
    per_rule = dict(sorted(Counter(r["rule_code"] for r in gt).items()))
    res = Result(out, start, 1, gt, per_rule, {k: int(v) for k, v in counters.items()}, time.time() - t0)
    _log(f"done in {res.seconds:.0f}s: {res.counts}", quiet)
    _ = fmt
    return res
