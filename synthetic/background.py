"""Background traffic that no rule R01-R16 may flag.

Cleanliness by construction, per person: at most one outpatient/pharmacy
visit per day (R02), at most 3 special-disease visits and 3 pharmacy sales per
month (R01, R03), at most one stay per period with the days from the day
before admission to the day after discharge reserved (R12, R13), a drug is
given again only once the previous supply is used up (R05), supply within
the limit (R04), restricted items only where diagnosis/gender/age fit (R06-R08),
prices at the base price which is never above any cap version (R09), <= 15
herbs (R10), a service at most once per visit and timestamp (R11), no dead
persons (R14), only institutions and physicians active over the whole period
(R15, R16; plant-only entities are kept out of the background pools).
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from synthetic.builder import Builder
from synthetic.model import FeeLine, Visit
from synthetic.world import World


def age_on(brdy: dt.date, d: dt.date) -> int:
    return d.year - brdy.year - ((d.month, d.day) < (brdy.month, brdy.day))


class Background:
    def __init__(self, b: Builder, rng: random.Random, per_day: dict[str, int]) -> None:
        self.b = b
        self.w: World = b.w
        self.rng = rng
        self.per_day = per_day
        self.busy: dict[str, set[int]] = {}
        self.stayed: set[str] = set()
        self.monthly: dict[tuple[str, str, int], int] = {}
        self.cover: dict[tuple[str, str], dt.date] = {}
        self.regs = {}
        for r in self.w.rows0["ref_psn_special_dise"].values():
            self.regs.setdefault(str(r["psn_no"]), []).append(r)
        self.registered = sorted(self.regs)
        self._pending: list[tuple[Visit, FeeLine, dt.datetime]] = []

    # ---- choosing -------------------------------------------------------------------
    def _free_person(self, day: int, span: tuple[int, int] | None = None, pool: list[str] | None = None) -> str | None:
        lo, hi = span or (day, day)
        for _ in range(20):
            psn = self.rng.choice(pool) if pool else f"33020{self.rng.randrange(1, self.w.bg_persons + 1):015d}"
            busy = self.busy.setdefault(psn, set())
            if not any(d in busy for d in range(lo, hi + 1)):
                return psn
        return None

    def _drugs(self, psn: str, cls: str, diag: list[str], d: dt.date, med_type: str, k: int) -> list[tuple[str, int]]:
        w = self.w
        p = w.person(psn, d)
        age = age_on(p["brdy"], d)  # type: ignore[arg-type]
        out: list[tuple[str, int]] = []
        cands = list(w.items_by_class.get(cls, [])) + list(w.items_by_class["general"])
        self.rng.shuffle(cands)
        catalogue = w.rows0["ref_med_list"]  # restrictions never change between versions
        for code in cands:
            it = catalogue[code]
            if it["lmt_dise_codes"] and not any(c.startswith(pre) for pre in str(it["lmt_dise_codes"]).split("|")
                                                for c in diag):
                continue
            if it["lmt_gend"] and it["lmt_gend"] != p["gend"]:
                continue
            if (it["lmt_age_min"] is not None and age < it["lmt_age_min"]) or (
                    it["lmt_age_max"] is not None and age > it["lmt_age_max"]):
                continue
            if self.cover.get((psn, code), dt.date.min) > d:
                continue
            limit = 7 if med_type in ("11", "13") else 30
            if it["max_days"] is not None:
                limit = min(limit, int(it["max_days"]))
            prd = self.rng.randint(1, limit) if med_type in ("11", "13") else self.rng.randint(min(7, limit), limit)
            out.append((code, prd))
            if len(out) == k:
                break
        return out

    def _dispense(self, psn: str, code: str, d: dt.date, prd: int) -> None:
        self.cover[(psn, code)] = max(self.cover.get((psn, code), dt.date.min), d + dt.timedelta(days=prd))

    def _disease(self, cls: str, gend: str, age: int) -> str:
        w = self.w
        for _ in range(10):
            code = self.rng.choice(w.diseases_by_class[cls])
            if code[:3] in ("N76", "N92", "O26") and gend != "2":
                continue
            if code[:3] == "N40" and gend != "1":
                continue
            if (code[0] == "C" or code[:3] == "Z51") and age < 18:
                continue
            return code
        return "J06.900"

    def _dept(self, inst: str, gend: str, age: int) -> tuple[str, tuple[str, ...]]:
        depts = self.w.institutions[inst].depts
        ok = [d for d in depts if (d[0] != "A05" or (gend == "2" and age >= 16))
              and (d[0] == "A07") == (age < 14) and d[0] not in ("A19", "A0305")]
        if not ok:
            ok = [d for d in depts if d[0] == "A03"]
        d = self.rng.choice(ok)
        return d[0], d[2]

    # ---- generation -------------------------------------------------------------------
    def run(self) -> None:
        for i in range(self.w.days):
            for _ in range(self._n("stays")):
                self._stay(i)
            for _ in range(self._n("outpatient")):
                self._outpatient(i)
            for _ in range(self._n("pharmacy")):
                self._sale(i)

    def _n(self, key: str) -> int:
        base = self.per_day[key]
        return max(0, int(self.rng.gauss(base, base ** 0.5)))

    def _time(self, d: dt.date, lo: int = 8, hi: int = 17) -> dt.datetime:
        return dt.datetime.combine(d, dt.time(self.rng.randrange(lo, hi), self.rng.randrange(60), self.rng.randrange(60)))

    def _month_ok(self, psn: str, kind: str, d: dt.date) -> bool:
        key = (psn, kind, d.year * 100 + d.month)
        if self.monthly.get(key, 0) >= 3:
            return False
        self.monthly[key] = self.monthly.get(key, 0) + 1
        return True

    def _outpatient(self, i: int) -> None:
        w, b, rng = self.w, self.b, self.rng
        d = w.day(i)
        special = rng.random() < 0.15
        psn = self._free_person(i, pool=self.registered if special else None)
        if psn is None:
            return
        p = w.person(psn, d)
        gend, age = str(p["gend"]), age_on(p["brdy"], d)  # type: ignore[arg-type]
        inst = rng.choice(w.hospitals)
        med_type = "14" if special else ("13" if rng.random() < 0.1 else "11")
        if special:
            reg = rng.choice(self.regs[psn])
            if not (reg["begn_date"] <= d and (reg["end_date"] is None or d <= reg["end_date"])):
                return
            if not self._month_ok(psn, "14", d):
                return
            dise = str(reg["dise_codg"])
            cls = w.diseases[dise][2]
            dept = {"renal": "A0305", "tumor": "A19"}.get(cls, "A03")
            if dept not in w.institutions[inst].physicians:
                dept = "A03"
        else:
            dept, classes = self._dept(inst, gend, age)
            if med_type == "13" and "A02" in w.institutions[inst].physicians:
                dept, classes = "A02", ("resp", "msk", "general", "cardio")
            cls = rng.choice(classes)
            dise = self._disease(cls, gend, age)
        self.busy[psn].add(i)
        dr = rng.choice(w.institutions[inst].physicians[dept])
        v = b.visit(psn, inst, med_type, self._time(d), dept=dept, dr=dr, dise=dise)
        svc = w.services["急诊诊查费" if med_type == "13" else "普通门诊诊查费"]
        b.line(v, svc, 1, time=v.begntime)
        if special and cls == "renal":
            b.line(v, w.services["血液透析"], 1)
            b.line(v, w.consumables["透析器"], 1)
        rx = b.rxno()
        for code, prd in self._drugs(psn, cls, [dise], d, med_type, rng.choice((1, 1, 2, 2, 3))):
            fl = b.line(v, code, rng.choice((1, 2, 3)), prd_days=prd, rxno=rx)
            self._dispense(psn, code, d, prd)
            self._maybe_refund(v, fl, i)
        if rng.random() < 0.3:
            test = rng.choice(["血常规检查", "尿常规检查", "心电图检查", "胸部X线摄影", "血糖测定", "肝功能检测"])
            b.line(v, w.services[test], 1)
        if dept == "A50" and rng.random() < 0.5:
            herb_rx = b.rxno()
            t = v.begntime + dt.timedelta(minutes=20)
            for h in rng.sample(w.herbs, rng.randint(6, 15)):
                b.line(v, h, rng.choice((6, 9, 10, 12, 15, 20, 30)) * rng.choice((5, 7)), time=t, rxno=herb_rx)
            b.line(v, w.services["中药饮片调剂费"], 1, time=t)
        if rng.random() < 0.08:
            b.line(v, w.consumables[rng.choice(["一次性输液器", "医用纱布块", "无菌注射器", "医用胶带"])], rng.randint(1, 3))
        self._finish(v, i)

    def _maybe_refund(self, v: Visit, fl: FeeLine, i: int) -> None:
        if self.rng.random() < 0.02:
            later = min(self.w.days - 1, i + self.rng.choice((0, 0, 1, 2)))
            t = self._time(self.w.day(later), 17, 20)
            if t > fl.fee_ocur_time:
                self._pending.append((v, fl, t))

    def _finish(self, v: Visit, i: int) -> None:
        b = self.b
        b.settle(v)
        for pv, fl, t in sorted((p for p in self._pending if p[0] is v), key=lambda p: p[2]):
            b.refund_and_resettle(pv, fl, fl.cnt if self.rng.random() < 0.5 else Decimal(1), t)
        self._pending = [p for p in self._pending if p[0] is not v]
        if self.rng.random() < 0.01 and v.med_type != "21":
            setls = b.setl_by_visit[v.mdtrt_id]
            done = {x.init_setl_id for x in setls}
            live = [x for x in setls if x.refd_setl_flag == "0" and x.setl_id not in done]
            if not live:
                return
            s = live[-1]
            later = min(self.w.days - 1, i + self.rng.choice((0, 1, 3)))
            t = self._time(self.w.day(later), 18, 21)
            if t > s.setl_time:
                b.reverse(s, t)  # cancelled visit (no new settlement); lines are clean anyway

    def _sale(self, i: int) -> None:
        w, b, rng = self.w, self.b, self.rng
        d = w.day(i)
        psn = self._free_person(i, pool=self.registered if rng.random() < 0.2 else None)
        if psn is None or not self._month_ok(psn, "41", d):
            return
        self.busy[psn].add(i)
        inst = rng.choice(w.pharmacies)
        v = b.visit(psn, inst, "41", self._time(d, 8, 21))
        ph = w.institutions[inst].pharmacists
        dr = rng.choice(ph) if rng.random() < 0.7 else None
        regs = self.regs.get(psn)
        cls = w.diseases[str(regs[0]["dise_codg"])][2] if regs else rng.choice(["resp", "gi", "derm", "general"])
        diag = [str(r["dise_codg"]) for r in regs] if regs else []
        drugs = self._drugs(psn, cls, diag, d, "41", rng.choice((1, 1, 2)))
        if not drugs:
            drugs = self._drugs(psn, "general", [], d, "41", 1)
        for code, prd in drugs:
            b.line(v, code, rng.choice((1, 2)), time=v.begntime, prd_days=prd, dr=dr)
            self._dispense(psn, code, d, prd)
        if not b.by_visit[v.mdtrt_id]:
            b.line(v, w.consumables["医用外科口罩"], 10, time=v.begntime, dr=dr)
        self._finish(v, i)

    def _stay(self, i: int) -> None:
        w, b, rng = self.w, self.b, self.rng
        los = rng.randint(2, 10)
        if i + los > w.days - 1:
            return
        psn = self._free_person(i, span=(i - 1, i + los + 1))
        if psn is None or psn in self.stayed:
            return
        p = w.person(psn, w.day(i))
        gend, age = str(p["gend"]), age_on(p["brdy"], w.day(i))  # type: ignore[arg-type]
        inst = rng.choice([h for h in w.hospitals if w.institutions[h].hosp_lv != "1"])
        dept, classes = self._dept(inst, gend, age)
        cls = rng.choice(classes)
        dise = self._disease(cls, gend, age)
        adm, dis = w.day(i), w.day(i + los)
        # the first drug choice must be free for the whole stay (daily prd_days 1 lines)
        drugs = self._drugs(psn, cls, [dise], adm, "21", 2)
        if any(self.cover.get((psn, c), dt.date.min) > adm for c, _ in drugs):
            return
        self.stayed.add(psn)
        self.busy[psn].update(range(i - 1, i + los + 2))
        dr = rng.choice(w.institutions[inst].physicians[dept])
        begin = self._time(adm)
        v = b.visit(psn, inst, "21", begin, end=self._time(dis, 9, 12), dept=dept, dr=dr, dise=dise,
                    extra_diags=(self._disease(cls, gend, age),) if rng.random() < 0.5 else ())
        if rng.random() < 0.02:
            b.no_supplement.add(v.mdtrt_id)
        for k in range(los + 1):
            day = w.day(i + k)
            at8 = dt.datetime.combine(day, dt.time(8, 0)) if k else begin
            b.line(v, w.services["床位费(三人间)"], 1, time=at8)
            b.line(v, w.services["Ⅱ级护理"], 1, time=at8)
            b.line(v, w.services["住院诊查费"], 1, time=at8 + dt.timedelta(hours=1))
            for code, _prd in drugs:
                b.line(v, code, rng.choice((1, 2)), time=at8 + dt.timedelta(hours=2), prd_days=1)
            if k == 0:
                for test in ("血常规检查", "肝功能检测", "胸部X线摄影"):
                    b.line(v, w.services[test], 1, time=at8 + dt.timedelta(hours=3))
                b.line(v, w.consumables["一次性输液器"], 2, time=at8 + dt.timedelta(hours=2))
        for code, _ in drugs:
            self._dispense(psn, code, dis, 1)
        b.settle(v)
