"""The extract contract v1 (../shared/spec/extracts.md) as data.

Column names are the national interface field names. Every other module
(loader, expectations, dbt sources, the synthetic generator) reads the
kinds, columns, types and keys from here, so the contract has one home.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TEXT = "text"
TS = "timestamp"
DATE = "date"
INT = "integer"
AMOUNT = "numeric(16,2)"  # yuan, up to 2 decimals
QTY = "numeric(16,4)"  # quantities, up to 4 decimals
PRICE = "numeric(18,6)"  # prices, up to 6 decimals


@dataclass(frozen=True)
class Kind:
    name: str
    section: str  # "daily" or "reference"
    source: str  # his / pharmacy / settlement / reference
    file_glob: str
    columns: dict[str, str]  # column -> PostgreSQL type, in contract order
    key: tuple[str, ...]
    label_zh: str
    # columns holding codes whose shape is checked on arrival (quarantine)
    institution_codes: tuple[str, ...] = ()
    practitioner_codes: tuple[str, ...] = ()
    certno_columns: tuple[str, ...] = ()
    not_null: tuple[str, ...] = field(default=())

    @property
    def table(self) -> str:
        return f"staging.{self.name}"


_FEE_COLUMNS = {
    "feedetl_sn": TEXT,
    "init_feedetl_sn": TEXT,
    "mdtrt_id": TEXT,
    "psn_no": TEXT,
    "fixmedins_code": TEXT,
    "med_type": TEXT,
    "fee_ocur_time": TS,
    "med_list_codg": TEXT,
    "medins_list_codg": TEXT,
    "list_type": TEXT,
    "cnt": QTY,
    "pric": PRICE,
    "det_item_fee_sumamt": AMOUNT,
    "bilg_dept_codg": TEXT,
    "bilg_dept_name": TEXT,
    "bilg_dr_codg": TEXT,
    "bilg_dr_name": TEXT,
    "rxno": TEXT,
    "prd_days": INT,
    "hosp_appr_flag": TEXT,
}
_FEE_KEY = ("fixmedins_code", "mdtrt_id", "feedetl_sn")
_FEE_NOT_NULL = ("feedetl_sn", "mdtrt_id", "psn_no", "fixmedins_code", "med_type",
                 "fee_ocur_time", "med_list_codg", "list_type", "cnt", "pric", "det_item_fee_sumamt")

KINDS: dict[str, Kind] = {
    k.name: k
    for k in [
        Kind(
            "his_mdtrt", "daily", "his", "his_mdtrt*.csv",
            {
                "mdtrt_id": TEXT, "psn_no": TEXT, "fixmedins_code": TEXT, "med_type": TEXT,
                "insutype": TEXT, "begntime": TS, "endtime": TS, "dept_codg": TEXT,
                "dept_name": TEXT, "atddr_no": TEXT, "dise_codg": TEXT, "dise_name": TEXT,
                "ipt_otp_no": TEXT,
            },
            ("mdtrt_id",), "就诊信息",
            institution_codes=("fixmedins_code",), practitioner_codes=("atddr_no",),
            not_null=("mdtrt_id", "psn_no", "fixmedins_code", "med_type", "begntime"),
        ),
        Kind(
            "his_diag", "daily", "his", "his_diag*.csv",
            {
                "mdtrt_id": TEXT, "diag_type": TEXT, "diag_srt_no": INT, "diag_code": TEXT,
                "diag_name": TEXT, "maindiag_flag": TEXT,
            },
            ("mdtrt_id", "diag_srt_no"), "诊断信息",
            not_null=("mdtrt_id", "diag_srt_no", "diag_code"),
        ),
        Kind(
            "his_feedetail", "daily", "his", "his_feedetail*.csv", dict(_FEE_COLUMNS), _FEE_KEY,
            "费用明细", institution_codes=("fixmedins_code",), practitioner_codes=("bilg_dr_codg",),
            not_null=_FEE_NOT_NULL,
        ),
        Kind(
            "pharmacy_sales", "daily", "pharmacy", "pharmacy_sales*.csv", dict(_FEE_COLUMNS), _FEE_KEY,
            "药店购药明细", institution_codes=("fixmedins_code",), practitioner_codes=("bilg_dr_codg",),
            not_null=_FEE_NOT_NULL,
        ),
        Kind(
            "setl", "daily", "settlement", "setl*.csv",
            {
                "setl_id": TEXT, "mdtrt_id": TEXT, "psn_no": TEXT, "fixmedins_code": TEXT,
                "insutype": TEXT, "med_type": TEXT, "setl_time": TS, "medfee_sumamt": AMOUNT,
                "fulamt_ownpay_amt": AMOUNT, "overlmt_selfpay": AMOUNT, "inscp_scp_amt": AMOUNT,
                "hifp_pay": AMOUNT, "acct_pay": AMOUNT, "psn_cash_pay": AMOUNT,
                "fund_pay_sumamt": AMOUNT, "refd_setl_flag": TEXT, "init_setl_id": TEXT,
            },
            ("setl_id",), "结算信息", institution_codes=("fixmedins_code",),
            not_null=("setl_id", "mdtrt_id", "psn_no", "fixmedins_code", "setl_time",
                      "medfee_sumamt", "fund_pay_sumamt"),
        ),
        Kind(
            "ref_psn", "reference", "reference", "ref_psn.csv",
            {
                "psn_no": TEXT, "certno": TEXT, "psn_name": TEXT, "gend": TEXT, "brdy": DATE,
                "insutype": TEXT, "psn_type": TEXT, "insu_admdvs": TEXT, "death_date": DATE,
            },
            ("psn_no",), "参保人员", certno_columns=("certno",),
            not_null=("psn_no", "certno", "gend", "brdy"),
        ),
        Kind(
            "ref_psn_special_dise", "reference", "reference", "ref_psn_special_dise.csv",
            {"psn_no": TEXT, "dise_type": TEXT, "dise_codg": TEXT, "begn_date": DATE, "end_date": DATE},
            ("psn_no", "dise_type"), "门特登记", not_null=("psn_no", "dise_type", "begn_date"),
        ),
        Kind(
            "ref_medins", "reference", "reference", "ref_medins.csv",
            {
                "fixmedins_code": TEXT, "fixmedins_name": TEXT, "fixmedins_type": TEXT,
                "hosp_lv": TEXT, "admdvs": TEXT, "begn_date": DATE, "end_date": DATE,
            },
            ("fixmedins_code",), "定点机构", institution_codes=("fixmedins_code",),
            not_null=("fixmedins_code", "fixmedins_type", "begn_date"),
        ),
        Kind(
            "ref_practitioner", "reference", "reference", "ref_practitioner.csv",
            {
                "prac_codg": TEXT, "prac_name": TEXT, "prac_type": TEXT, "fixmedins_code": TEXT,
                "dept_codg": TEXT, "begn_date": DATE, "end_date": DATE,
            },
            ("prac_codg",), "医药师", institution_codes=("fixmedins_code",),
            practitioner_codes=("prac_codg",), not_null=("prac_codg", "prac_type", "fixmedins_code", "begn_date"),
        ),
        Kind(
            "ref_med_list", "reference", "reference", "ref_med_list.csv",
            {
                "med_list_codg": TEXT, "med_list_name": TEXT, "list_type": TEXT, "chrgitm_lv": TEXT,
                "spec": TEXT, "unit": TEXT, "max_pric": PRICE, "lmt_gend": TEXT,
                "lmt_age_min": INT, "lmt_age_max": INT, "lmt_dise_codes": TEXT, "max_days": INT,
                "precious_flag": TEXT,
            },
            ("med_list_codg",), "医保目录", not_null=("med_list_codg", "list_type"),
        ),
        Kind(
            "ref_disease", "reference", "reference", "ref_disease.csv",
            {"dise_codg": TEXT, "dise_name": TEXT, "chapter": TEXT},
            ("dise_codg",), "疾病目录", not_null=("dise_codg",),
        ),
    ]
}

DAILY_KINDS = [k for k in KINDS.values() if k.section == "daily"]
REFERENCE_KINDS = [k for k in KINDS.values() if k.section == "reference"]

# Code tables (extracts.md, "Code tables used below").
CODE_TABLES: dict[str, dict[str, str]] = {
    "med_type": {"11": "普通门诊", "13": "急诊", "14": "门诊慢特病", "21": "普通住院", "41": "定点药店购药"},
    "insutype": {"310": "职工基本医疗保险", "390": "城乡居民基本医疗保险"},
    "list_type": {"101": "西药中成药", "102": "中药饮片", "201": "医疗服务项目", "301": "医用耗材"},
    "gend": {"1": "男", "2": "女"},
    "chrgitm_lv": {"1": "甲类", "2": "乙类", "3": "丙类"},
    "hosp_lv": {"1": "一级", "2": "二级", "3": "三级", "9": "未定级"},
    "fixmedins_type": {"1": "定点医疗机构", "2": "定点零售药店"},
    "prac_type": {"1": "医师", "2": "药师"},
}

INSTITUTION_CODE_RE = r"^[HP][0-9]{11}$"
PRACTITIONER_CODE_RE = r"^[DY][0-9]{12}$"
CERTNO_RE = r"^[0-9]{17}[0-9X]$"


def certno_check_digit(first17: str) -> str:
    """GB 11643-1999 check character for the first 17 digits of a resident ID."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(first17, weights, strict=True))
    return "10X98765432"[total % 11]


def certno_is_valid(certno: str) -> bool:
    c = certno.strip().upper()
    return len(c) == 18 and c[:17].isdigit() and certno_check_digit(c[:17]) == c[17]
