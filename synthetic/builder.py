"""Building blocks for events: visits, fee lines, settlements, refunds, reversals.

Plants and the background both go through these, so every record satisfies
the contract's identities (amount = cnt x pric to cents, medfee_sumamt =
fund_pay_sumamt + acct_pay + psn_cash_pay, fund_pay_sumamt >= hifp_pay).
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from synthetic.model import Events, FeeLine, Settlement, Visit, money
from synthetic.world import World

ZERO = Decimal("0")
_RATIO = {  # pooled-fund share of the in-scope amount by (med_type, insutype)
    ("11", "310"): Decimal("0.50"), ("11", "390"): Decimal("0.45"),
    ("13", "310"): Decimal("0.55"), ("13", "390"): Decimal("0.50"),
    ("14", "310"): Decimal("0.75"), ("14", "390"): Decimal("0.65"),
    ("21", "310"): Decimal("0.82"), ("21", "390"): Decimal("0.68"),
    ("41", "310"): Decimal("0.30"), ("41", "390"): Decimal("0.20"),
}


class Builder:
    def __init__(self, world: World, rng: random.Random) -> None:
        self.w = world
        self.rng = rng
        self.ev = Events()
        self.by_visit: dict[str, list[FeeLine]] = {}
        self.setl_by_visit: dict[str, list[Settlement]] = {}
        self.visit_by_id: dict[str, Visit] = {}
        self.no_supplement: set[str] = set()

    # ---- ids: fixed width so text order = numeric order -----------------------------
    def _sn(self) -> str:
        return f"{self.w.next('sn'):012d}"

    def rxno(self) -> str:
        return f"RX{self.w.next('rx'):010d}"

    # ---- visits -----------------------------------------------------------------------
    def visit(self, psn: str, inst: str, med_type: str, begin: dt.datetime, *, end: dt.datetime | None = None,
              dept: str = "A03", dr: str | None = None, dise: str | None = None, extra_diags: tuple[str, ...] = (),
              folder: dt.date | None = None) -> Visit:
        w = self.w
        p = w.person(psn, begin.date())
        if med_type == "41":
            vid = f"S{begin:%Y%m%d}{w.next('sale'):09d}"
            v = Visit(vid, psn, inst, "41", str(p["insutype"]), begin, begin, "", "", None, None, None, "",
                      "pharmacy", folder or begin.date())
        else:
            vid = f"M{begin:%Y%m%d}{w.next('mdtrt'):09d}"
            dname = dict((d[0], d[1]) for d in w.institutions[inst].depts).get(dept, "内科")
            if med_type != "21" and end is None and self.rng.random() < 0.5:
                end = begin  # outpatient: endtime = begntime or NULL, both delivered
            dn = w.diseases[dise][0] if dise in w.diseases else "未特指疾病"
            ipt = f"{'ZY' if med_type == '21' else 'MZ'}{w.next('iptotp'):08d}"
            v = Visit(vid, psn, inst, med_type, str(p["insutype"]), begin, end, dept, dname, dr, dise, dn, ipt,
                      "his", folder or (end.date() if med_type == "21" and end else begin.date()))
            codes = [dise, *extra_diags] if dise else list(extra_diags)
            for i, c in enumerate(codes, 1):
                name = w.diseases.get(c.strip().upper(), ("其他诊断",))[0]
                v.diags.append(("1", i, c, name, "1" if i == 1 else "0"))
        self.ev.visits.append(v)
        self.by_visit[v.mdtrt_id] = []
        self.setl_by_visit[v.mdtrt_id] = []
        self.visit_by_id[v.mdtrt_id] = v
        return v

    def line(self, v: Visit, item: str, cnt: Decimal | int | str, *, time: dt.datetime | None = None,
             pric: Decimal | str | None = None, prd_days: int | None = None, dr: str | None | bool = True,
             rxno: str | None = None, dept: str | None = None) -> FeeLine:
        w = self.w
        t = time or v.begntime + dt.timedelta(minutes=self.rng.randrange(3, 40))
        price = Decimal(pric) if pric is not None else w.base_price[item]
        c = Decimal(cnt)
        row = w.item(item, t.date())
        if dr is True:
            dr_code = v.atddr_no
        else:
            dr_code = dr or None
        dcode = dept if dept is not None else v.dept_codg
        dname = v.dept_name if dept is None else dict((d[0], d[1]) for d in w.institutions[v.fixmedins_code].depts).get(dept, "")
        fl = FeeLine(self._sn(), v.mdtrt_id, v.psn_no, v.fixmedins_code, v.med_type, t, item,
                     f"{v.fixmedins_code[-5:]}{item[-6:]}", str(row["list_type"]), c, price, money(c * price),
                     dcode, dname, dr_code, w.prac_names.get(dr_code or "", ""), rxno, prd_days,
                     "1" if row["lmt_dise_codes"] else "0", v.source, v.folder)
        self.ev.lines.append(fl)
        self.by_visit[v.mdtrt_id].append(fl)
        return fl

    # ---- settlements ----------------------------------------------------------------
    def net_lines(self, mdtrt_id: str) -> list[tuple[FeeLine, Decimal]]:
        lines = self.by_visit[mdtrt_id]
        refunds: dict[str, Decimal] = {}
        for fl in lines:
            if fl.init_feedetl_sn:
                refunds[fl.init_feedetl_sn] = refunds.get(fl.init_feedetl_sn, ZERO) + fl.amount
        return [(fl, fl.amount + refunds.get(fl.feedetl_sn, ZERO)) for fl in lines if not fl.init_feedetl_sn]

    def settle(self, v: Visit, *, time: dt.datetime | None = None, folder: dt.date | None = None) -> Settlement:
        w = self.w
        t = time or ((v.endtime or v.begntime) + dt.timedelta(minutes=45))
        total = own = ZERO
        for fl, amt in self.net_lines(v.mdtrt_id):
            total += amt
            if w.item(fl.med_list_codg, fl.fee_ocur_time.date())["chrgitm_lv"] == "3":
                own += amt
        inscp = total - own
        hifp = money(inscp * _RATIO[(v.med_type, v.insutype)])
        sup = ZERO
        if v.med_type == "21" and inscp > 600 and v.mdtrt_id not in self.no_supplement:
            sup = money((inscp - 600) * Decimal("0.10"))  # serious-illness supplement (大病保险), toy threshold
        fund = hifp + sup
        rest = total - fund
        acct = money(rest * Decimal("0.6")) if v.insutype == "310" and v.med_type in ("11", "13", "14", "41") else ZERO
        cash = total - fund - acct
        s = Settlement(f"ST{t:%Y%m%d}{w.next('setl'):09d}", v.mdtrt_id, v.psn_no, v.fixmedins_code, v.insutype,
                       v.med_type, t, total, own, ZERO, inscp, hifp, acct, cash, fund, folder or v.folder)
        self.ev.setls.append(s)
        self.setl_by_visit[v.mdtrt_id].append(s)
        return s

    def reverse(self, s: Settlement, time: dt.datetime) -> Settlement:
        assert s.hifp == s.fund or s.mdtrt_id in self.no_supplement, "reversals only of rows with fund == hifp"
        r = Settlement(f"ST{time:%Y%m%d}{self.w.next('setl'):09d}", s.mdtrt_id, s.psn_no, s.fixmedins_code,
                       s.insutype, s.med_type, time, -s.medfee, -s.fulamt_ownpay, -s.overlmt, -s.inscp, -s.hifp,
                       -s.acct, -s.cash, -s.fund, time.date(), "1", s.setl_id)
        self.ev.setls.append(r)
        self.setl_by_visit[s.mdtrt_id].append(r)
        return r

    def refund(self, fl: FeeLine, cnt: Decimal | int | str, time: dt.datetime) -> FeeLine:
        """A refund line (negative cnt) in the folder of the refund day."""
        c = -abs(Decimal(cnt))
        r = FeeLine(self._sn(), fl.mdtrt_id, fl.psn_no, fl.fixmedins_code, fl.med_type, time, fl.med_list_codg,
                    fl.medins_list_codg, fl.list_type, c, fl.pric, money(c * fl.pric), fl.dept_codg, fl.dept_name,
                    fl.dr_codg, fl.dr_name, fl.rxno, fl.prd_days, fl.hosp_appr_flag, fl.source, time.date(),
                    fl.feedetl_sn)
        self.ev.lines.append(r)
        self.by_visit[fl.mdtrt_id].append(r)
        return r

    def refund_and_resettle(self, v: Visit, fl: FeeLine, cnt: Decimal | int | str, time: dt.datetime) -> None:
        """The usual counter flow: refund the line, reverse the settlement, settle the net again."""
        self.refund(fl, cnt, time)
        live = [s for s in self.setl_by_visit[v.mdtrt_id] if s.refd_setl_flag == "0"
                and not any(r.init_setl_id == s.setl_id for r in self.setl_by_visit[v.mdtrt_id])]
        for s in live:
            self.reverse(s, time + dt.timedelta(minutes=1))
        if any(amt != 0 for _fl, amt in self.net_lines(v.mdtrt_id)):
            self.settle(v, time=time + dt.timedelta(minutes=2), folder=time.date())
