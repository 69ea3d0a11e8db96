"""A straightforward Python reading of audit-rules.md + docs/architecture.md.

It judges the generated events exactly as the warehouse rules must, and its
output is the ground truth. The generator also checks that it finds exactly
the keys the plants intended (so the background is provably clean).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from synthetic.model import Events, FeeLine, Visit
from synthetic.world import World

GT_COLUMNS = ["rule_code", "fixmedins_code", "mdtrt_id", "feedetl_sn", "rxno", "psn_no", "period_start", "amount"]
THRESHOLDS = {"R01": 5, "R01_dialysis": 15, "R02": 3, "R03": 5, "R04_11_13": 7, "R04_14_41": 30, "R05": 7,
              "R10": 20, "R10_tumour": 25, "R12": 15}


def _q(f: Fraction) -> Decimal:
    cents = f * 100
    sign = -1 if cents < 0 else 1
    a = abs(cents)
    whole = a.numerator // a.denominator
    if a - whole >= Fraction(1, 2):
        whole += 1
    return (Decimal(sign * whole) / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass
class NetLine:
    line: FeeLine
    cnt: Decimal
    amount: Decimal

    @property
    def fee_date(self) -> dt.date:
        return self.line.fee_ocur_time.date()


def _active(row: dict[str, object] | None, d: dt.date) -> bool:
    if row is None:
        return False
    b, e = row.get("begn_date"), row.get("end_date")
    return b is not None and b <= d and (e is None or d <= e)  # type: ignore[operator]


def _age(brdy: dt.date, d: dt.date) -> int:
    return d.year - brdy.year - ((d.month, d.day) < (brdy.month, brdy.day))


class Oracle:
    def __init__(self, w: World, ev: Events) -> None:
        self.w = w
        self.rows: list[dict[str, str]] = []
        self.ambiguous: list[str] = []
        refunds: dict[tuple[str, str, str], list[FeeLine]] = defaultdict(list)
        for fl in ev.lines:
            if fl.init_feedetl_sn:
                refunds[(fl.fixmedins_code, fl.mdtrt_id, fl.init_feedetl_sn)].append(fl)
        self.net: list[NetLine] = []
        for fl in ev.lines:
            if fl.init_feedetl_sn:
                continue
            rs = refunds.get((fl.fixmedins_code, fl.mdtrt_id, fl.feedetl_sn), [])
            cnt = fl.cnt + sum((r.cnt for r in rs), Decimal(0))
            if cnt == 0:
                continue
            self.net.append(NetLine(fl, cnt, fl.amount + sum((r.amount for r in rs), Decimal(0))))
        self.visits: dict[str, Visit] = {v.mdtrt_id: v for v in ev.visits}
        self.fund: dict[str, Decimal] = defaultdict(Decimal)
        originals: dict[str, list[str]] = defaultdict(list)
        reversed_ids: set[str] = set()
        for s in ev.setls:
            self.fund[s.mdtrt_id] += s.fund
            if s.refd_setl_flag == "1":
                reversed_ids.add(str(s.init_setl_id))
            else:
                originals[s.mdtrt_id].append(s.setl_id)
        self.cancelled = {m for m, ids in originals.items() if ids and all(i in reversed_ids for i in ids)}
        self.diag: dict[str, list[str]] = {}
        for v in ev.visits:
            codes = [v.dise_codg] if v.dise_codg else []
            codes += [d[2] for d in v.diags]
            self.diag[v.mdtrt_id] = [c.strip().upper() for c in codes]
        self.live = [v for v in ev.visits if v.mdtrt_id not in self.cancelled]
        self.reg_keys: dict[str, list[str]] = defaultdict(list)
        for kind_rows in (w.rows0["ref_psn_special_dise"], w.mid.get("ref_psn_special_dise", {})):
            for key in kind_rows:
                self.reg_keys[key.split("|")[0]].append(key)

    # ---- output ---------------------------------------------------------------------
    def _amt(self, x: Fraction | Decimal, exact_denominator_ok: bool = True) -> str:
        f = Fraction(x)
        if (f * 200).denominator == 1 and (f * 200).numerator % 2 and not exact_denominator_ok:
            self.ambiguous.append(str(f))
        return str(_q(f))

    def add(self, rule: str, amount: Fraction | Decimal, **keys: str) -> None:
        row = {c: "" for c in GT_COLUMNS}
        row.update(rule_code=rule, **keys)
        row["amount"] = self._amt(amount)
        self.rows.append(row)

    def add_line(self, rule: str, n: NetLine, amount: Fraction | Decimal) -> None:
        self.add(rule, amount, fixmedins_code=n.line.fixmedins_code, mdtrt_id=n.line.mdtrt_id,
                 feedetl_sn=n.line.feedetl_sn)

    # ---- rules --------------------------------------------------------------------------
    def run(self) -> list[dict[str, str]]:
        for r in (self.r01_r03, self.r02, self.r04, self.r05, self.r06_r09, self.r10, self.r11, self.r12,
                  self.r13, self.r14, self.r15, self.r16):
            r()
        self.rows.sort(key=lambda r: tuple(r[c] for c in GT_COLUMNS))
        return self.rows

    def _reg_active(self, psn: str, d: dt.date, dise_type: str | None = None) -> bool:
        for key in self.reg_keys.get(psn, ()):
            row = self.w.as_of("ref_psn_special_dise", key, d)
            if row and (dise_type is None or row["dise_type"] == dise_type) and _active(row, d):
                return True
        return False

    def _vdate(self, v: Visit) -> dt.date:
        return v.begntime.date()

    def r01_r03(self) -> None:
        groups: dict[tuple[str, str, dt.date], list[Visit]] = defaultdict(list)
        for v in self.live:
            if v.med_type in ("14", "41"):
                groups[(v.med_type, v.psn_no, self._vdate(v).replace(day=1))].append(v)
        for (mt, psn, first), vs in groups.items():
            if mt == "14":
                rule = "R01"
                thr = THRESHOLDS["R01_dialysis"] if self._reg_active(psn, first, "DIALYSIS") else THRESHOLDS["R01"]
            else:
                rule, thr = "R03", THRESHOLDS["R03"]
                if not self._reg_active(psn, first):
                    continue
            if len(vs) > thr:
                vs.sort(key=lambda v: (v.begntime, v.mdtrt_id))
                self.add(rule, sum((self.fund[v.mdtrt_id] for v in vs[thr:]), Decimal(0)), psn_no=psn,
                         period_start=first.isoformat())

    def r02(self) -> None:
        groups: dict[tuple[str, dt.date], list[Visit]] = defaultdict(list)
        for v in self.live:
            if v.med_type in ("11", "13", "14", "41"):
                groups[(v.psn_no, self._vdate(v))].append(v)
        for (psn, d), vs in groups.items():
            if len({v.fixmedins_code for v in vs}) >= THRESHOLDS["R02"]:
                self.add("R02", sum((self.fund[v.mdtrt_id] for v in vs), Decimal(0)), psn_no=psn,
                         period_start=d.isoformat())

    def _drug_lines(self) -> list[NetLine]:
        return [n for n in self.net if n.line.list_type == "101" and n.line.prd_days is not None]

    def r04(self) -> None:
        for n in self._drug_lines():
            mt = n.line.med_type
            if mt == "21":
                continue
            item = self.w.as_of("ref_med_list", n.line.med_list_codg, n.fee_date)
            limit = THRESHOLDS["R04_11_13"] if mt in ("11", "13") else THRESHOLDS["R04_14_41"]
            if item and item["max_days"] is not None:
                limit = int(item["max_days"])  # type: ignore[arg-type]
            prd = int(n.line.prd_days or 0)
            if prd > limit:
                self.add_line("R04", n, Fraction(n.amount) * (prd - limit) / prd)

    def r05(self) -> None:
        by: dict[tuple[str, str], list[NetLine]] = defaultdict(list)
        for n in self._drug_lines():
            by[(n.line.psn_no, n.line.med_list_codg.strip().upper())].append(n)
        for lines in by.values():
            for n2 in lines:
                d2 = n2.fee_date
                ends = [n1.fee_date + dt.timedelta(days=int(n1.line.prd_days or 0)) for n1 in lines if n1.fee_date < d2]
                if not ends:
                    continue
                remaining = (max(ends) - d2).days
                if remaining > THRESHOLDS["R05"]:
                    prd2 = int(n2.line.prd_days or 0)
                    self.add_line("R05", n2, Fraction(n2.amount) * min(Fraction(1), Fraction(remaining, prd2)))

    def r06_r09(self) -> None:
        for n in self.net:
            fl = n.line
            item = self.w.as_of("ref_med_list", fl.med_list_codg, n.fee_date)
            if item is None:
                continue
            p = self.w.as_of("ref_psn", fl.psn_no, n.fee_date)
            if fl.source == "his" and item["lmt_dise_codes"]:
                prefixes = [x.strip().upper() for x in str(item["lmt_dise_codes"]).split("|")]
                if not any(c.startswith(pre) for c in self.diag.get(fl.mdtrt_id, []) for pre in prefixes):
                    self.add_line("R06", n, n.amount)
            if p and item["lmt_gend"] and item["lmt_gend"] != p["gend"]:
                self.add_line("R07", n, n.amount)
            if p:
                age = _age(p["brdy"], n.fee_date)  # type: ignore[arg-type]
                lo, hi = item["lmt_age_min"], item["lmt_age_max"]
                if (lo is not None and age < lo) or (hi is not None and age > hi):  # type: ignore[operator]
                    self.add_line("R08", n, n.amount)
            cap = item["max_pric"]
            if cap is not None and fl.pric > Decimal(str(cap)):
                self.add_line("R09", n, (fl.pric - Decimal(str(cap))) * n.cnt)

    def r10(self) -> None:
        rx: dict[tuple[str, str], list[NetLine]] = defaultdict(list)
        for n in self.net:
            if n.line.rxno and n.line.list_type == "102":
                rx[(n.line.fixmedins_code, n.line.rxno)].append(n)
        for (inst, rxno), lines in rx.items():
            d = min(n.fee_date for n in lines)
            psn = lines[0].line.psn_no
            tumour = self._reg_active(psn, d, "TUMOR") or any(
                c.startswith("C") for n in lines for c in self.diag.get(n.line.mdtrt_id, []))
            limit = THRESHOLDS["R10_tumour"] if tumour else THRESHOLDS["R10"]
            if len({n.line.med_list_codg for n in lines}) > limit:
                self.add("R10", sum((n.amount for n in lines), Decimal(0)), fixmedins_code=inst, rxno=rxno)

    def r11(self) -> None:
        groups: dict[tuple[object, ...], list[NetLine]] = defaultdict(list)
        for n in self.net:
            fl = n.line
            if fl.list_type == "201":
                groups[(fl.fixmedins_code, fl.mdtrt_id, fl.med_list_codg, fl.fee_ocur_time, n.cnt, fl.pric)].append(n)
        for lines in groups.values():
            lines.sort(key=lambda n: n.line.feedetl_sn)
            for n in lines[1:]:
                self.add_line("R11", n, n.amount)

    def _stays(self) -> list[Visit]:
        return [v for v in self.live if v.med_type == "21"]

    def r12(self) -> None:
        by: dict[tuple[str, str], list[Visit]] = defaultdict(list)
        for v in self._stays():
            by[(v.psn_no, v.fixmedins_code)].append(v)
        for stays in by.values():
            for s in stays:
                adm = s.begntime.date()
                prev = [p for p in stays if p is not s and p.endtime and p.endtime.date() <= adm]
                if not prev:
                    continue
                p = max(prev, key=lambda x: x.endtime)  # type: ignore[arg-type,return-value]
                gap = (adm - p.endtime.date()).days  # type: ignore[union-attr]
                if 0 <= gap <= THRESHOLDS["R12"] and (s.dise_codg or "")[:3].upper() == (p.dise_codg or "")[:3].upper():
                    self.add("R12", self.fund[s.mdtrt_id], mdtrt_id=s.mdtrt_id)

    def r13(self) -> None:
        stays: dict[str, list[Visit]] = defaultdict(list)
        for s in self._stays():
            stays[s.psn_no].append(s)
        for v in self.live:
            if v.med_type in ("11", "13", "14", "41"):
                d = self._vdate(v)
                if any(s.begntime.date() < d < s.endtime.date() for s in stays.get(v.psn_no, []) if s.endtime):
                    self.add("R13", self.fund[v.mdtrt_id], mdtrt_id=v.mdtrt_id)

    def r14(self) -> None:
        for n in self.net:
            p = self.w.latest("ref_psn", n.line.psn_no)
            if p and p["death_date"] and n.fee_date > p["death_date"]:  # type: ignore[operator]
                self.add_line("R14", n, n.amount)

    def r15(self) -> None:
        for v in self.live:
            if not _active(self.w.as_of("ref_medins", v.fixmedins_code, self._vdate(v)), self._vdate(v)):
                self.add("R15", self.fund[v.mdtrt_id], mdtrt_id=v.mdtrt_id)

    def r16(self) -> None:
        for n in self.net:
            fl = n.line
            if fl.source != "his":
                continue
            code = (fl.dr_codg or "").strip().upper()
            prac = self.w.as_of("ref_practitioner", code, n.fee_date) if code else None
            ok = (prac is not None and prac["prac_type"] == "1" and prac["fixmedins_code"] == fl.fixmedins_code
                  and _active(prac, n.fee_date))
            if not ok:
                self.add_line("R16", n, n.amount)
