"""In-memory records of one demo generation (reference world + events).

Money is Decimal throughout so amounts are exact cents and ground-truth
formulas can be evaluated exactly (see oracle.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def money(x: Decimal) -> Decimal:
    """Round half away from zero to cents (Decimal ROUND_HALF_UP is away from zero)."""
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(slots=True)
class FeeLine:
    feedetl_sn: str
    mdtrt_id: str
    psn_no: str
    fixmedins_code: str
    med_type: str
    fee_ocur_time: dt.datetime
    med_list_codg: str
    medins_list_codg: str
    list_type: str
    cnt: Decimal
    pric: Decimal
    amount: Decimal
    dept_codg: str
    dept_name: str
    dr_codg: str | None
    dr_name: str
    rxno: str | None
    prd_days: int | None
    hosp_appr_flag: str
    source: str  # his | pharmacy
    folder: dt.date
    init_feedetl_sn: str | None = None

    def row(self) -> dict[str, object]:
        return {
            "feedetl_sn": self.feedetl_sn, "init_feedetl_sn": self.init_feedetl_sn,
            "mdtrt_id": self.mdtrt_id, "psn_no": self.psn_no, "fixmedins_code": self.fixmedins_code,
            "med_type": self.med_type, "fee_ocur_time": self.fee_ocur_time,
            "med_list_codg": self.med_list_codg, "medins_list_codg": self.medins_list_codg,
            "list_type": self.list_type, "cnt": self.cnt, "pric": self.pric,
            "det_item_fee_sumamt": self.amount, "bilg_dept_codg": self.dept_codg,
            "bilg_dept_name": self.dept_name, "bilg_dr_codg": self.dr_codg, "bilg_dr_name": self.dr_name,
            "rxno": self.rxno, "prd_days": self.prd_days, "hosp_appr_flag": self.hosp_appr_flag,
        }


@dataclass(slots=True)
class Settlement:
    setl_id: str
    mdtrt_id: str
    psn_no: str
    fixmedins_code: str
    insutype: str
    med_type: str
    setl_time: dt.datetime
    medfee: Decimal
    fulamt_ownpay: Decimal
    overlmt: Decimal
    inscp: Decimal
    hifp: Decimal
    acct: Decimal
    cash: Decimal
    fund: Decimal
    folder: dt.date
    refd_setl_flag: str = "0"
    init_setl_id: str | None = None

    def row(self) -> dict[str, object]:
        return {
            "setl_id": self.setl_id, "mdtrt_id": self.mdtrt_id, "psn_no": self.psn_no,
            "fixmedins_code": self.fixmedins_code, "insutype": self.insutype, "med_type": self.med_type,
            "setl_time": self.setl_time, "medfee_sumamt": self.medfee, "fulamt_ownpay_amt": self.fulamt_ownpay,
            "overlmt_selfpay": self.overlmt, "inscp_scp_amt": self.inscp, "hifp_pay": self.hifp,
            "acct_pay": self.acct, "psn_cash_pay": self.cash, "fund_pay_sumamt": self.fund,
            "refd_setl_flag": self.refd_setl_flag, "init_setl_id": self.init_setl_id,
        }


@dataclass(slots=True)
class Visit:
    mdtrt_id: str
    psn_no: str
    fixmedins_code: str
    med_type: str
    insutype: str
    begntime: dt.datetime
    endtime: dt.datetime | None
    dept_codg: str
    dept_name: str
    atddr_no: str | None
    dise_codg: str | None
    dise_name: str | None
    ipt_otp_no: str
    source: str  # his | pharmacy
    folder: dt.date
    diags: list[tuple[str, int, str, str, str]] = field(default_factory=list)  # type, srt, code, name, main

    def row(self) -> dict[str, object]:
        return {
            "mdtrt_id": self.mdtrt_id, "psn_no": self.psn_no, "fixmedins_code": self.fixmedins_code,
            "med_type": self.med_type, "insutype": self.insutype, "begntime": self.begntime,
            "endtime": self.endtime, "dept_codg": self.dept_codg, "dept_name": self.dept_name,
            "atddr_no": self.atddr_no, "dise_codg": self.dise_codg, "dise_name": self.dise_name,
            "ipt_otp_no": self.ipt_otp_no,
        }


@dataclass
class Events:
    visits: list[Visit] = field(default_factory=list)
    lines: list[FeeLine] = field(default_factory=list)
    setls: list[Settlement] = field(default_factory=list)
