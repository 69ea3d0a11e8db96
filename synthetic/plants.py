"""Planted cases for every rule R01-R16: suspects, at-threshold near misses,
refunds/reversals that flip the outcome, and entities starting/ending on the day.

Every plant uses its own fresh persons (never drawn by the background), so
plants do not interact with each other or with the background. Each plant
declares the grain keys it expects to be suspect (`expect`) and its near
misses (`near`); generate.py checks the oracle finds exactly the expected keys.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from synthetic.builder import Builder
from synthetic.model import FeeLine, Visit
from synthetic.world import World

Key = dict[str, str]


class Plants:
    def __init__(self, b: Builder, rng: random.Random) -> None:
        self.b = b
        self.w: World = b.w
        self.rng = rng
        self.expected: list[Key] = []
        self.near: list[dict[str, str]] = []
        self.corrections: dict[str, dict[str, str]] = {}
        w = self.w
        self.mid = (w.ref_mid - w.start).days
        self.h = [h for h in w.hospitals if "A50" in w.institutions[h].physicians][:4]
        self.h2 = [h for h in w.hospitals if w.institutions[h].hosp_lv != "1"][:3]
        self.ph = w.pharmacies[:3]
        # the calendar month with most days inside the period (R01/R03)
        months: dict[tuple[int, int], list[int]] = {}
        for i in range(w.days):
            d = w.day(i)
            months.setdefault((d.year, d.month), []).append(i)
        self.month = max(months.values(), key=len)
        self.month_first = w.day(self.month[0]).replace(day=1)

    # ---- small helpers ------------------------------------------------------------
    def code(self, prefix: str) -> str:
        for code, row in self.w.rows0["ref_med_list"].items():
            if str(row["med_list_name"]).startswith(prefix):
                return code
        raise KeyError(prefix)

    def person(self, gend: str = "1", age: int = 45, brdy: dt.date | None = None, reg: str | None = None,
               reg_begn: dt.date | None = None, reg_end: dt.date | None = None, death: dt.date | None = None,
               insutype: str = "310") -> str:
        w = self.w
        brdy = brdy or w.start.replace(year=w.start.year - age, day=1) - dt.timedelta(days=40)
        psn = w.add_person(self.rng, gend, brdy, insutype, death)
        if reg:
            w.add_registration(psn, reg, reg_begn or dt.date(2021, 3, 1), reg_end)
        return psn

    def t(self, i: int, hour: int = 9, minute: int = 0) -> dt.datetime:
        return dt.datetime.combine(self.w.day(i), dt.time(hour, minute))

    def dr(self, inst: str, dept: str = "A03") -> str:
        return self.w.institutions[inst].physicians[dept][0]

    def opd(self, psn: str, inst: str, i: int, med_type: str = "11", hour: int = 9, dise: str = "J06.900",
            extra: tuple[str, ...] = (), dept: str = "A03", minute: int = 0) -> Visit:
        if med_type == "41":
            return self.b.visit(psn, inst, "41", self.t(i, hour, minute))
        return self.b.visit(psn, inst, med_type, self.t(i, hour, minute), dept=dept, dr=self.dr(inst, dept),
                            dise=dise, extra_diags=extra)

    def one(self, psn: str, inst: str, i: int, item: str, cnt: int | str = 1, *, med_type: str = "11",
            pric: Decimal | str | None = None, prd: int | None = None, dr: str | None | bool = True,
            dise: str = "J06.900", extra: tuple[str, ...] = (), hour: int = 9, settle: bool = True,
            dept: str = "A03") -> tuple[Visit, FeeLine]:
        v = self.opd(psn, inst, i, med_type, hour, dise, extra, dept)
        if med_type == "41" and dr is True:
            dr = self.w.institutions[inst].pharmacists[0]
        fl = self.b.line(v, item, cnt, pric=pric, prd_days=prd, dr=dr, time=v.begntime + dt.timedelta(minutes=5),
                         rxno=self.b.rxno() if prd else None)
        if settle:
            self.b.settle(v)
        return v, fl

    def line_key(self, rule: str, fl: FeeLine) -> Key:
        return {"rule_code": rule, "fixmedins_code": fl.fixmedins_code, "mdtrt_id": fl.mdtrt_id,
                "feedetl_sn": fl.feedetl_sn}

    def exp_line(self, rule: str, fl: FeeLine) -> None:
        self.expected.append(self.line_key(rule, fl))

    def exp_visit(self, rule: str, v: Visit) -> None:
        self.expected.append({"rule_code": rule, "mdtrt_id": v.mdtrt_id})

    def exp_person(self, rule: str, psn: str, period: dt.date) -> None:
        self.expected.append({"rule_code": rule, "psn_no": psn, "period_start": period.isoformat()})

    def miss(self, rule: str, note: str, **keys: str) -> None:
        self.near.append({"rule_code": rule, **keys, "note": note})

    def spread(self, n: int, days: list[int]) -> list[tuple[int, int]]:
        """n (day, hour) slots over the given days, one a day first, then afternoons."""
        slots = [(d, 9) for d in days] + [(d, 14) for d in days] + [(d, 16) for d in days]
        return sorted(slots[:n])

    # ---- rules -----------------------------------------------------------------------
    def run(self) -> None:
        for fn in (self.r01, self.r02, self.r03, self.r04, self.r05, self.r06, self.r07, self.r08, self.r09,
                   self.r10, self.r11, self.r12, self.r13, self.r14, self.r15, self.r16):
            fn()

    def _special_visits(self, psn: str, n: int, dialysis: bool, cancel: int | None = None) -> list[Visit]:
        w, b = self.w, self.b
        inst = self.h2[0]
        dept = "A0305" if dialysis and "A0305" in w.institutions[inst].physicians else "A03"
        out = []
        for k, (i, hour) in enumerate(self.spread(n, self.month)):
            v = self.opd(psn, inst, i, "14", hour, "N18.500" if dialysis else "E11.900", dept=dept)
            b.line(v, w.services["血液透析" if dialysis else "糖化血红蛋白测定"], 1, time=v.begntime)
            s = b.settle(v)
            if cancel == k:
                b.reverse(s, s.setl_time + dt.timedelta(hours=2))
            out.append(v)
        return out

    def r01(self) -> None:
        first = self.month_first
        p = self.person(reg="DIABETES")
        self._special_visits(p, 6, False)
        self.exp_person("R01", p, first)
        p = self.person(reg="HYPERTENSION")
        self._special_visits(p, 5, False)
        self.miss("R01", "5 special-disease visits in the month = threshold", psn_no=p, period_start=first.isoformat())
        p = self.person(reg="DIALYSIS")
        self._special_visits(p, 15, True)
        self.miss("R01", "dialysis patient, 15 visits = dialysis threshold", psn_no=p, period_start=first.isoformat())
        p = self.person(reg="DIALYSIS")
        self._special_visits(p, 16, True)
        self.exp_person("R01", p, first)
        p = self.person(reg="DIABETES")
        self._special_visits(p, 6, False, cancel=1)
        self.miss("R01", "6 visits but one settlement reversed (cancelled) -> 5", psn_no=p, period_start=first.isoformat())
        p = self.person(reg="DIALYSIS", reg_begn=first)
        self._special_visits(p, 15, True)
        self.miss("R01", "DIALYSIS registration begins on the 1st: dialysis threshold, 15", psn_no=p,
                  period_start=first.isoformat())
        p = self.person(reg="DIALYSIS", reg_begn=first + dt.timedelta(days=1))
        self._special_visits(p, 7, True)
        self.exp_person("R01", p, first)  # not active on the 1st -> threshold 5

    def r02(self) -> None:
        w, b = self.w, self.b
        i = 3
        h1, h2, ph = self.h[0], self.h[1], self.ph[0]
        amox = self.code("阿莫西林胶囊")
        dx = self.code("对乙酰氨基酚片")
        p = self.person()
        self.one(p, h1, i, w.services["普通门诊诊查费"], hour=8)
        self.one(p, h2, i, w.services["急诊诊查费"], med_type="13", hour=11)
        self.one(p, ph, i, amox, med_type="41", prd=5, hour=15)
        self.exp_person("R02", p, w.day(i))
        p = self.person()
        self.one(p, h1, i, w.services["普通门诊诊查费"], hour=8)
        self.one(p, h1, i, w.services["血常规检查"], hour=10)
        self.one(p, h2, i, w.services["普通门诊诊查费"], hour=14)
        self.miss("R02", "3 visits at 2 institutions", psn_no=p, period_start=w.day(i).isoformat())
        p = self.person()
        self.one(p, h1, i, w.services["普通门诊诊查费"], hour=8)
        v, _ = self.one(p, h2, i, w.services["普通门诊诊查费"], hour=10)
        b.reverse(b.setl_by_visit[v.mdtrt_id][0], self.t(i, 12))
        self.one(p, ph, i, dx, med_type="41", prd=3, hour=15)
        self.miss("R02", "3 institutions but one visit cancelled", psn_no=p, period_start=w.day(i).isoformat())
        p = self.person()
        self.one(p, h1, i, w.services["普通门诊诊查费"], hour=8)
        v, fl = self.one(p, h1, i, dx, prd=3, cnt=4, hour=10)
        b.refund_and_resettle(v, fl, 2, self.t(i, 11))
        self.one(p, h2, i, w.services["普通门诊诊查费"], hour=13)
        self.one(p, ph, i, amox, med_type="41", prd=5, hour=16)
        self.exp_person("R02", p, w.day(i))

    def _sales(self, psn: str, n: int) -> None:
        drugs = [self.code(x) for x in ("阿莫西林胶囊", "对乙酰氨基酚片", "氨氯地平片", "奥美拉唑肠溶胶囊",
                                        "二甲双胍片", "氯雷他定片", "甲钴胺片", "铝碳酸镁咀嚼片")]
        for k, (i, hour) in enumerate(self.spread(n, self.month)):
            self.one(psn, self.ph[1], i, drugs[k], med_type="41", prd=7, hour=hour)

    def r03(self) -> None:
        first = self.month_first
        ps = first.isoformat()
        p = self.person(reg="HYPERTENSION")
        self._sales(p, 6)
        self.exp_person("R03", p, first)
        p = self.person(reg="DIABETES")
        self._sales(p, 5)
        self.miss("R03", "5 pharmacy sales = threshold", psn_no=p, period_start=ps)
        p = self.person()
        self._sales(p, 7)
        self.miss("R03", "7 sales but no special-disease registration", psn_no=p, period_start=ps)
        p = self.person(reg="TUMOR", reg_end=first - dt.timedelta(days=1))
        self._sales(p, 6)
        self.miss("R03", "registration ended the day before the 1st", psn_no=p, period_start=ps)
        p = self.person(reg="HEMIPLEGIA", reg_end=first)
        self._sales(p, 6)
        self.exp_person("R03", p, first)  # registration ends on the 1st: active that day

    def r04(self) -> None:
        b = self.b
        h, ph = self.h[0], self.ph[0]
        amox = self.code("阿莫西林胶囊")
        cef = self.code("头孢呋辛酯片")
        _, fl = self.one(self.person(), h, 5, amox, 2, prd=10)
        self.exp_line("R04", fl)
        _, fl = self.one(self.person(), h, 5, amox, 2, prd=7)
        self.miss("R04", "prd_days 7 = limit for med_type 11", **self._lk(fl))
        _, fl = self.one(self.person(reg="DIABETES"), h, 6, cef, 3, med_type="14", prd=8, dise="E11.900")
        self.exp_line("R04", fl)  # max_days 5 beats the 30-day default
        _, fl = self.one(self.person(), ph, 6, amox, 3, med_type="41", prd=31)
        self.exp_line("R04", fl)
        _, fl = self.one(self.person(), ph, 6, amox, 3, med_type="41", prd=30)
        self.miss("R04", "pharmacy prd_days 30 = limit", **self._lk(fl))
        p = self.person()
        v = b.visit(p, self.h2[0], "21", self.t(7), end=self.t(9, 10), dept="A03", dr=self.dr(self.h2[0]),
                    dise="J18.900")
        b.line(v, self.w.services["床位费(三人间)"], 1, time=self.t(7, 9, 30))
        fl = b.line(v, amox, 4, time=self.t(7, 10), prd_days=40)
        b.settle(v)
        self.miss("R04", "inpatient drug line with prd_days 40 is exempt", **self._lk(fl))
        v, fl = self.one(self.person(), h, 8, amox, 10, prd=12)
        b.refund_and_resettle(v, fl, 4, self.t(9, 15))
        self.exp_line("R04", fl)  # partially refunded: net amount
        v, fl = self.one(self.person(), h, 8, amox, 2, prd=10)
        b.refund_and_resettle(v, fl, 2, self.t(10, 15))
        self.miss("R04", "over-limit line fully refunded", **self._lk(fl))

    def _lk(self, fl: FeeLine) -> dict[str, str]:
        return {"fixmedins_code": fl.fixmedins_code, "mdtrt_id": fl.mdtrt_id, "feedetl_sn": fl.feedetl_sn}

    def r05(self) -> None:
        b = self.b
        h, ph = self.h[1], self.ph[2]
        met = self.code("二甲双胍片")
        kw = {"med_type": "14", "dise": "E11.900"}
        p = self.person(reg="DIABETES")
        self.one(p, h, 10, met, 2, prd=20, **kw)
        _, fl = self.one(p, h, 20, met, 2, prd=20, **kw)
        self.exp_line("R05", fl)
        p = self.person(reg="DIABETES")
        self.one(p, h, 10, met, 2, prd=20, **kw)
        _, fl = self.one(p, h, 23, met, 2, prd=20, **kw)
        self.miss("R05", "remaining exactly 7 days", **self._lk(fl))
        p = self.person(reg="DIABETES")
        self.one(p, h, 5, met, 1, prd=10, **kw)
        _, fl0 = self.one(p, h, 8, met, 2, prd=20, **kw)
        self.miss("R05", "remaining 7 against the first dispensing", **self._lk(fl0))
        _, fl = self.one(p, h, 18, met, 3, prd=30, **kw)
        self.exp_line("R05", fl)  # the dispensing with the latest coverage end wins
        p = self.person(reg="DIABETES")
        self.one(p, h, 12, met, 3, prd=30, **kw)
        _, fl = self.one(p, ph, 14, met, 1, med_type="41", prd=10)
        self.exp_line("R05", fl)  # across institutions, min(1, 28/10) = 1
        p = self.person(reg="DIABETES")
        self.one(p, h, 15, met, 2, prd=20, **kw)
        _, fl = self.one(p, self.h[2], 15, met, 2, prd=20, hour=15, **kw)
        self.miss("R05", "same-day dispensings never refill each other", **self._lk(fl))
        p = self.person(reg="DIABETES")
        v, fl1 = self.one(p, h, 10, met, 2, prd=20, **kw)
        b.refund_and_resettle(v, fl1, 2, self.t(11, 10))
        _, fl = self.one(p, h, 20, met, 2, prd=20, **kw)
        self.miss("R05", "the earlier dispensing was fully refunded", **self._lk(fl))

    def r06(self) -> None:
        h, ph = self.h[0], self.ph[0]
        ator = self.code("阿托伐他汀钙片")
        _, fl = self.one(self.person(), h, 11, ator, 2, prd=7)
        self.exp_line("R06", fl)
        _, fl = self.one(self.person(), h, 11, ator, 2, prd=7, extra=("E78.500",))
        self.miss("R06", "indication matched by a secondary his_diag code", **self._lk(fl))
        _, fl = self.one(self.person(), h, 12, ator, 2, prd=7, extra=("e78.500",))
        self.miss("R06", "secondary diagnosis delivered lower-case", **self._lk(fl))
        _, fl = self.one(self.person(), ph, 12, ator, 2, med_type="41", prd=7)
        self.miss("R06", "pharmacy line: R06 applies to HIS lines only", **self._lk(fl))

    def r07(self) -> None:
        w, h, ph = self.w, self.h[1], self.ph[1]
        prog = self.code("黄体酮胶囊")
        _, fl = self.one(self.person("1"), h, 13, prog, 2, prd=5, dise="R51.x00")
        self.exp_line("R07", fl)
        _, fl = self.one(self.person("2"), h, 13, prog, 2, prd=5, dise="R51.x00")
        self.miss("R07", "female-only drug to a woman", **self._lk(fl))
        _, fl = self.one(self.person("2"), ph, 13, self.code("盐酸坦索罗辛缓释胶囊"), 1, med_type="41", prd=10)
        self.exp_line("R07", fl)
        _, fl = self.one(self.person("1"), h, 14, w.services["妇科检查"], 1, dise="R51.x00")
        self.exp_line("R07", fl)

    def r08(self) -> None:
        w, h = self.w, self.h[2]
        kid = self.code("小儿氨酚黄那敏颗粒")
        levo = self.code("左氧氟沙星片")
        i = 16
        d = w.day(i)

        def born(years: int, shift: int) -> dt.date:
            anchor = d if (d.month, d.day) != (2, 29) else d - dt.timedelta(days=1)
            return anchor.replace(year=d.year - years) + dt.timedelta(days=shift)

        _, fl = self.one(self.person(age=40), h, i, kid, 2, prd=3)
        self.exp_line("R08", fl)
        _, fl = self.one(self.person(brdy=born(15, 1)), h, i, kid, 2, prd=3)
        self.miss("R08", "age 14 (15th birthday tomorrow) = lmt_age_max 14", **self._lk(fl))
        _, fl = self.one(self.person(brdy=born(15, 0)), h, i, kid, 2, prd=3)
        self.exp_line("R08", fl)  # 15th birthday today
        _, fl = self.one(self.person(brdy=born(18, 1)), h, i, levo, 2, prd=5)
        self.exp_line("R08", fl)  # 17, turns 18 tomorrow
        _, fl = self.one(self.person(brdy=born(18, 0)), h, i, levo, 2, prd=5)
        self.miss("R08", "turns 18 on the fee date = lmt_age_min 18", **self._lk(fl))

    def r09(self) -> None:
        w, b = self.w, self.b
        h, ph = self.h[3], self.ph[2]
        capped = [c for c, r in w.rows0["ref_med_list"].items() if r["list_type"] == "201" and r["max_pric"]
                  and not r["lmt_gend"] and r["chrgitm_lv"] != "3"]
        svc = capped[5]
        cap = Decimal(w.rows0["ref_med_list"][svc]["max_pric"])  # type: ignore[arg-type]
        _, fl = self.one(self.person(), h, 17, svc, 3, pric=cap + Decimal("0.50"))
        self.exp_line("R09", fl)
        self.corrections["remove"] = {"date": w.day(17).isoformat(), "kind": "his_feedetail", **self._lk(fl)}
        _, fl = self.one(self.person(), h, 17, svc, 3, pric=cap)
        self.miss("R09", "price exactly at the cap", **self._lk(fl))
        # a new catalogue version of one drug lowers its cap from the mid-period snapshot on
        drug = next(c for c, r in w.rows0["ref_med_list"].items() if r["list_type"] == "101" and r["max_pric"]
                    and not r["lmt_dise_codes"] and not r["lmt_gend"] and r["lmt_age_min"] is None
                    and r["lmt_age_max"] is None and r["max_days"] is None and w.item_class[c] == "gi")
        base = w.base_price[drug]
        new_cap = (base * Decimal("1.02")).quantize(Decimal("0.01"))
        old_cap = Decimal(w.rows0["ref_med_list"][drug]["max_pric"])  # type: ignore[arg-type]
        w.change("ref_med_list", drug, max_pric=new_cap, med_list_name=str(w.rows0["ref_med_list"][drug]["med_list_name"]) + "(新版)")
        pric = ((new_cap + old_cap) / 2).quantize(Decimal("0.01"))
        assert new_cap < pric <= old_cap
        _, fl = self.one(self.person(), h, self.mid - 1, drug, 4, pric=pric, prd=5)
        self.miss("R09", "price under the old cap, the day before the new version", **self._lk(fl))
        _, fl = self.one(self.person(), h, self.mid, drug, 4, pric=pric, prd=5)
        self.exp_line("R09", fl)  # new cap valid from the snapshot date
        v, fl = self.one(self.person(), h, 18, svc, 5, pric=cap + Decimal("1.00"))
        b.refund_and_resettle(v, fl, 2, self.t(19, 9))
        self.exp_line("R09", fl)
        pc = next(c for c, r in w.rows0["ref_med_list"].items() if r["list_type"] == "301" and r["max_pric"])
        _, fl = self.one(self.person(), ph, 18, pc, 2, med_type="41",
                         pric=Decimal(w.rows0["ref_med_list"][pc]["max_pric"]) + Decimal("0.35"))  # type: ignore[arg-type]
        self.exp_line("R09", fl)

    def _herbs(self, psn: str, n: int, i: int, *, dise: str = "M54.500", extra: tuple[str, ...] = (),
               dup: bool = False, other: bool = False, refund_one: bool = False) -> tuple[Visit, str]:
        w, b = self.w, self.b
        inst = self.h[0]
        v = self.opd(psn, inst, i, "11", 10, dise, extra, dept="A50")
        rx = b.rxno()
        t = v.begntime + dt.timedelta(minutes=15)
        lines = [b.line(v, hb, 10, time=t, rxno=rx) for hb in w.herbs[:n]]
        if dup:
            b.line(v, w.herbs[0], 5, time=t, rxno=rx)
        if other:
            b.line(v, self.code("双氯芬酸钠缓释片"), 1, time=t, rxno=rx, prd_days=5)
        b.line(v, w.services["中药饮片调剂费"], 1, time=t)
        b.settle(v)
        if refund_one:
            b.refund_and_resettle(v, lines[-1], 10, self.t(i + 1, 9))
        return v, rx

    def r10(self) -> None:
        inst = self.h[0]
        _, rx = self._herbs(self.person(), 21, 19, dup=True, other=True)
        self.expected.append({"rule_code": "R10", "fixmedins_code": inst, "rxno": rx})
        _, rx = self._herbs(self.person(), 20, 19)
        self.miss("R10", "20 herbs = limit", fixmedins_code=inst, rxno=rx)
        tp = self.person(reg="TUMOR")
        _, rx = self._herbs(tp, 25, 20, dise="C34.900")
        self.miss("R10", "TUMOR registration: 25 herbs = tumour limit", fixmedins_code=inst, rxno=rx)
        _, rx = self._herbs(self.person(reg="TUMOR"), 26, 20)
        self.expected.append({"rule_code": "R10", "fixmedins_code": inst, "rxno": rx})
        _, rx = self._herbs(self.person(), 25, 21, extra=("C16.900",))
        self.miss("R10", "C diagnosis in his_diag: 25 herbs = tumour limit", fixmedins_code=inst, rxno=rx)
        _, rx = self._herbs(self.person(), 21, 21, refund_one=True)
        self.miss("R10", "21 herbs, one fully refunded -> 20", fixmedins_code=inst, rxno=rx)

    def r11(self) -> None:
        w, b = self.w, self.b
        h = self.h[1]
        inf = w.services["静脉输液"]
        v = self.opd(self.person(), h, 22, "13", 10)
        t = v.begntime + dt.timedelta(minutes=30)
        f1, f2, f3 = (b.line(v, inf, 2, time=t) for _ in range(3))
        b.settle(v)
        self.exp_line("R11", f2)
        self.exp_line("R11", f3)
        self.miss("R11", "first of identical service lines is kept", **self._lk(f1))
        v = self.opd(self.person(), h, 22, "11", 11)
        t = v.begntime + dt.timedelta(minutes=30)
        b.line(v, inf, 1, time=t)
        f2 = b.line(v, inf, 2, time=t)
        b.settle(v)
        self.miss("R11", "same service and time, different cnt", **self._lk(f2))
        v = self.opd(self.person(), h, 23, "11", 11)
        t = v.begntime + dt.timedelta(minutes=30)
        f1 = b.line(v, inf, 1, time=t)
        f2 = b.line(v, inf, 1, time=t)
        b.settle(v)
        b.refund_and_resettle(v, f1, 1, self.t(23, 16))
        self.miss("R11", "duplicate whose twin was fully refunded", **self._lk(f2))

    def _stay(self, psn: str, inst: str, adm: int, dis: int, dise: str = "J18.900", cancel: bool = False) -> Visit:
        w, b = self.w, self.b
        v = b.visit(psn, inst, "21", self.t(adm, 10), end=self.t(dis, 10), dept="A03", dr=self.dr(inst), dise=dise)
        b.no_supplement.add(v.mdtrt_id)
        for i in range(adm, dis + 1):
            b.line(v, w.services["床位费(三人间)"], 1, time=self.t(i, 10, 30))
            b.line(v, w.services["住院诊查费"], 1, time=self.t(i, 11))
        s = b.settle(v)
        if cancel:
            b.reverse(s, s.setl_time + dt.timedelta(hours=1))
        return v

    def r12(self) -> None:
        h, h2 = self.h2[0], self.h2[1]
        p = self.person()
        self._stay(p, h, 1, 4)
        self.exp_visit("R12", self._stay(p, h, 19, 22))  # gap 15: "0 to N days" includes N itself
        p = self.person()
        self._stay(p, h, 1, 4)
        v = self._stay(p, h, 20, 23)
        self.miss("R12", "readmission 16 days after discharge", mdtrt_id=v.mdtrt_id)
        p = self.person()
        self._stay(p, h, 2, 5)
        self.exp_visit("R12", self._stay(p, h, 5, 8))  # admitted on the discharge day (gap 0)
        p = self.person()
        self._stay(p, h, 2, 5)
        v = self._stay(p, h, 10, 12, dise="K29.700")
        self.miss("R12", "different 3-character category", mdtrt_id=v.mdtrt_id)
        p = self.person()
        self._stay(p, h, 2, 5)
        v = self._stay(p, h2, 10, 12)
        self.miss("R12", "different institution", mdtrt_id=v.mdtrt_id)
        p = self.person()
        self._stay(p, h, 2, 5, cancel=True)
        v = self._stay(p, h, 10, 12)
        self.miss("R12", "previous stay cancelled (settlement reversed)", mdtrt_id=v.mdtrt_id)

    def r13(self) -> None:
        w, b = self.w, self.b
        h, h2, ph = self.h2[0], self.h[1], self.ph[0]
        dx = self.code("对乙酰氨基酚片")
        p = self.person()
        self._stay(p, h, 10, 15)
        v, _ = self.one(p, h2, 12, w.services["普通门诊诊查费"])
        self.exp_visit("R13", v)
        v, _ = self.one(p, ph, 13, dx, med_type="41", prd=3)
        self.exp_visit("R13", v)
        v, _ = self.one(p, h2, 10, w.services["普通门诊诊查费"], hour=8)
        self.miss("R13", "outpatient visit on the admission day", mdtrt_id=v.mdtrt_id)
        v, _ = self.one(p, h2, 15, w.services["普通门诊诊查费"], hour=16)
        self.miss("R13", "outpatient visit on the discharge day", mdtrt_id=v.mdtrt_id)
        v, _ = self.one(p, h2, 11, w.services["普通门诊诊查费"])
        b.reverse(b.setl_by_visit[v.mdtrt_id][0], self.t(11, 17))
        self.miss("R13", "outpatient visit during the stay, cancelled", mdtrt_id=v.mdtrt_id)

    def r14(self) -> None:
        w = self.w
        h, ph = self.h[2], self.ph[1]
        death = w.day(self.mid - 5)
        p = self.person(age=80)
        w.change("ref_psn", p, death_date=death)  # reported in the mid-period snapshot
        _, fl = self.one(p, h, self.mid - 5, w.services["普通门诊诊查费"])
        self.miss("R14", "fee line on the death date", **self._lk(fl))
        _, fl = self.one(p, h, self.mid - 2, w.services["普通门诊诊查费"])
        self.exp_line("R14", fl)  # before the snapshot that reports the death: latest value applies
        p = self.person(age=75, death=w.start - dt.timedelta(days=30))
        _, fl = self.one(p, ph, 6, self.code("对乙酰氨基酚片"), 2, med_type="41", prd=3)
        self.exp_line("R14", fl)

    def r15(self) -> None:
        w, b, rng = self.w, self.b, self.rng
        svc = w.services["普通门诊诊查费"]
        a = w.add_institution(rng, "1", "2", dt.date(2019, 1, 1))
        end = self.mid + 3
        w.change("ref_medins", a.code, end_date=w.day(end))
        v, _ = self.one(self.person(), a.code, end, svc)
        self.miss("R15", "visit on the agreement's last day", mdtrt_id=v.mdtrt_id)
        v, _ = self.one(self.person(), a.code, end + 1, svc)
        self.exp_visit("R15", v)
        v, fl = self.one(self.person(), a.code, end + 2, self.code("对乙酰氨基酚片"), 6, prd=3)
        b.refund_and_resettle(v, fl, 2, self.t(end + 2, 15))
        self.exp_visit("R15", v)  # reversed and settled again: net fund amount
        bb = w.add_institution(rng, "1", "1", w.day(8))
        v, _ = self.one(self.person(), bb.code, 7, svc)
        self.exp_visit("R15", v)
        v, _ = self.one(self.person(), bb.code, 8, svc)
        self.miss("R15", "visit on the agreement's first day", mdtrt_id=v.mdtrt_id)
        c = w.add_institution(rng, "1", "1", dt.date(2019, 1, 1))
        w.change("ref_medins", c.code, remove=True)
        v, _ = self.one(self.person(), c.code, self.mid - 1, svc)
        self.miss("R15", "visit the day before the institution left the catalogue", mdtrt_id=v.mdtrt_id)
        v, _ = self.one(self.person(), c.code, self.mid + 2, svc)
        self.exp_visit("R15", v)
        q = w.add_institution(rng, "2", "9", dt.date(2020, 1, 1))
        w.change("ref_medins", q.code, end_date=w.day(end))
        v, _ = self.one(self.person(), q.code, end + 1, self.code("对乙酰氨基酚片"), 2, med_type="41", prd=3)
        self.exp_visit("R15", v)

    def r16(self) -> None:
        w, b, rng = self.w, self.b, self.rng
        h, other = self.h[3], self.h[0]
        svc = w.services["血常规检查"]
        inst = w.institutions[h]
        _, fl = self.one(self.person(), h, 24, svc, dr=None)
        self.exp_line("R16", fl)
        _, fl = self.one(self.person(), h, 24, svc, dr=f"D{inst.region}999999")
        self.exp_line("R16", fl)
        _, fl = self.one(self.person(), h, 24, svc, dr=inst.pharmacists[0])
        self.exp_line("R16", fl)
        _, fl = self.one(self.person(), h, 25, svc, dr=self.dr(other))
        self.exp_line("R16", fl)
        leaver = w.add_practitioner(rng, inst, "1", "A03", dt.date(2018, 5, 1))
        end = self.mid + 2
        w.change("ref_practitioner", leaver, end_date=w.day(end))
        _, fl = self.one(self.person(), h, end, svc, dr=leaver)
        self.miss("R16", "physician's last active day", **self._lk(fl))
        _, fl = self.one(self.person(), h, end + 1, svc, dr=leaver)
        self.exp_line("R16", fl)
        joiner = w.add_practitioner(rng, inst, "1", "A03", w.day(9))
        _, fl = self.one(self.person(), h, 8, svc, dr=joiner)
        self.exp_line("R16", fl)
        _, fl = self.one(self.person(), h, 9, svc, dr=joiner)
        self.miss("R16", "physician's first active day", **self._lk(fl))
        v, fl = self.one(self.person(), h, 26, svc, dr=None)
        b.refund_and_resettle(v, fl, 1, self.t(27, 9))
        self.miss("R16", "line without prescriber, fully refunded", **self._lk(fl))

