"""The expectation suites, one per extract kind, as code; `python -m ingestion.gx_suites` writes
them into the GX file context under expectations/ (the versioned JSON the loader runs).

Each expectation carries meta {"check": <short id>, "severity": "critical" | "warning"}:
a critical failure refuses the kind's delivery for that date, a warning is recorded.
Row-level business checks carry their SQL in meta.violation_sql; the loader
turns each into a boolean column chk_<check> of a view over the candidate
partition, and the expectation is "chk_<check> is always false". Everything
runs inside PostgreSQL, bundled by GX into few queries. Suite parameters (filled per load):
volume_min, volume_max.

Why critical vs warning (docs/ingestion.md): critical = the delivery cannot be
right (identity broken, impossible code, a date after the business date);
warning = implausible but possible (volume outside the recent band, an
outpatient line dated before its folder's date).
"""

from __future__ import annotations

import sys

import great_expectations as gx
import great_expectations.expectations as gxe

from ingestion.checks import required_columns
from ingestion.contract import (
    CODE_TABLES,
    INSTITUTION_CODE_RE,
    KINDS,
    PRACTITIONER_CODE_RE,
    Kind,
)
from ingestion.gx_sql import EXPECTATIONS_DIR, suite_name

CRITICAL, WARNING = "critical", "warning"
# every candidate row carries its folder date, so date checks need no parameter
BD = "business_date"

OUTPATIENT_MED_TYPES = ["11", "13", "14", "21"]


def _m(check: str, severity: str) -> dict:
    return {"meta": {"check": check, "severity": severity}, "severity": severity}


def check_column(check: str) -> str:
    return "chk_" + check


def _rows(check: str, severity: str, description: str, where: str):
    """A row-level check written in SQL: `where` selects the violating rows of the candidate partition.

    The loader exposes it as a boolean column chk_<check> of a view over the
    candidate (SQL from this meta), so GX evaluates it with all the other column
    expectations in one bundled aggregate query instead of a scan per check.
    """
    return gxe.ExpectColumnValuesToBeInSet(
        column=check_column(check), value_set=[False], description=description,
        meta={"check": check, "severity": severity, "violation_sql": where}, severity=severity,
    )


def _loose(code_re: str) -> str:
    """^[HP][0-9]{11}$ -> ^\\s*[HPhp][0-9]{11}\\s*$ (letters either case, blanks around)."""
    head, rest = code_re[1:].split("]", 1)
    letters = head[1:]
    return "^\\s*[" + letters + letters.lower() + "]" + rest[:-1] + "\\s*$"


def _common(kind: Kind) -> list:
    ex: list = []
    for c in required_columns(kind):
        ex.append(gxe.ExpectColumnValuesToNotBeNull(column=c, **_m(f"not_null:{c}", CRITICAL)))
    # Daily kinds: the candidate partition carries a UNIQUE (business_date, key) index, so PostgreSQL
    # already guarantees uniqueness; GX's group-by-and-join-back query for it would cost more than
    # the rest of the suite on 3M lines. Reference kinds (no such index) keep the expectation.
    if kind.section == "daily":
        pass
    elif len(kind.key) == 1:
        ex.append(gxe.ExpectColumnValuesToBeUnique(column=kind.key[0], **_m(f"unique:{kind.key[0]}", CRITICAL)))
    else:
        ex.append(gxe.ExpectCompoundColumnsToBeUnique(
            column_list=list(kind.key), **_m("unique:" + "+".join(kind.key), CRITICAL)))
    # same tolerance as the quarantine check (and stg): codes are compared trimmed and upper-cased
    for c in kind.institution_codes:
        ex.append(gxe.ExpectColumnValuesToMatchRegex(
            column=c, regex=_loose(INSTITUTION_CODE_RE), **_m(f"code_shape:{c}", CRITICAL)))
    for c in kind.practitioner_codes:
        ex.append(gxe.ExpectColumnValuesToMatchRegex(
            column=c, regex=_loose(PRACTITIONER_CODE_RE), **_m(f"code_shape:{c}", CRITICAL)))
    for c in kind.columns:
        if c in CODE_TABLES and not (kind.name == "pharmacy_sales" and c == "med_type"):
            ex.append(gxe.ExpectColumnValuesToBeInSet(
                column=c, value_set=sorted(CODE_TABLES[c]), **_m(f"code_table:{c}", CRITICAL)))
    if kind.section == "daily":
        ex.append(gxe.ExpectTableRowCountToBeBetween(
            min_value={"$PARAMETER": "volume_min"}, max_value={"$PARAMETER": "volume_max"},
            **_m("volume_band", WARNING)))
    return ex


def _fee(kind: Kind) -> list:
    ex = []
    if kind.name == "pharmacy_sales":
        ex.append(gxe.ExpectColumnValuesToBeInSet(column="med_type", value_set=["41"],
                                                  **_m("code_table:med_type", CRITICAL)))
        ex.append(gxe.ExpectColumnValuesToMatchRegex(column="fixmedins_code", regex="^P",
                                                     **_m("pharmacy_institution", WARNING)))
    ex += [
        _rows("amount_is_cnt_x_pric", CRITICAL, "det_item_fee_sumamt = cnt × pric within a cent",
              "abs(det_item_fee_sumamt - cnt * pric) > 0.01"),
        _rows("refund_negative", CRITICAL, "refund lines (init_feedetl_sn set) have negative cnt and amount",
              "init_feedetl_sn IS NOT NULL AND (cnt >= 0 OR det_item_fee_sumamt > 0)"),
        _rows("original_positive", WARNING, "non-refund lines have positive cnt",
              "init_feedetl_sn IS NULL AND cnt <= 0"),
        _rows("fee_not_after_business_date", CRITICAL, "no fee line is dated after its folder's business date",
              f"fee_ocur_time >= {BD} + 1"),
        _rows("fee_on_business_date", WARNING,
              "outpatient/pharmacy lines are dated on the business date (stay lines may predate it)",
              f"med_type <> '21' AND init_feedetl_sn IS NULL AND fee_ocur_time::date <> {BD}"),
        _rows("prd_days_positive", WARNING, "days of supply, when set, are positive", "prd_days <= 0"),
    ]
    return ex


def _extra(kind: Kind) -> list:
    n = kind.name
    if n in ("his_feedetail", "pharmacy_sales"):
        return _fee(kind)
    if n == "his_mdtrt":
        return [
            _rows("stay_discharged_on_business_date", CRITICAL,
                  "inpatient stays (med_type 21) come in their discharge date's folder with both times",
                  f"med_type = '21' AND (endtime IS NULL OR endtime::date <> {BD} OR begntime > endtime)"),
            _rows("visit_not_after_business_date", CRITICAL, "no visit begins after the business date",
                  f"begntime >= {BD} + 1"),
            _rows("outpatient_on_business_date", WARNING, "outpatient visits begin on the business date",
                  f"med_type <> '21' AND begntime::date <> {BD}"),
            gxe.ExpectColumnValuesToMatchRegex(column="dise_codg", regex="^[A-Z][0-9]{2}",
                                               **_m("icd10_shape:dise_codg", WARNING)),
        ]
    if n == "his_diag":
        return [
            gxe.ExpectColumnValuesToBeInSet(column="diag_type", value_set=["1", "2"],
                                            **_m("code_table:diag_type", WARNING)),
            gxe.ExpectColumnValuesToBeInSet(column="maindiag_flag", value_set=["0", "1"],
                                            **_m("code_table:maindiag_flag", WARNING)),
        ]
    if n == "setl":
        return [
            _rows("setl_total_identity", CRITICAL,
                  "medfee_sumamt = fund_pay_sumamt + acct_pay + psn_cash_pay within a cent",
                  "abs(medfee_sumamt - (fund_pay_sumamt + coalesce(acct_pay, 0) + coalesce(psn_cash_pay, 0)))"
                  " > 0.01"),
            _rows("fund_covers_pooled_fund", CRITICAL,
                  "fund_pay_sumamt >= hifp_pay (reversal rows: both negated)",
                  "abs(fund_pay_sumamt) + 0.005 < abs(coalesce(hifp_pay, 0))"),
            _rows("reversal_has_original", CRITICAL, "reversal rows (refd_setl_flag 1) name init_setl_id",
                  "refd_setl_flag = '1' AND init_setl_id IS NULL"),
            _rows("reversal_negative", WARNING, "reversal rows carry negated amounts",
                  "refd_setl_flag = '1' AND medfee_sumamt > 0"),
            _rows("setl_not_after_business_date", CRITICAL, "no settlement after the business date",
                  f"setl_time >= {BD} + 1"),
            _rows("setl_on_business_date", WARNING, "settlements happen on the business date",
                  f"setl_time::date <> {BD}"),
        ]
    if n == "ref_psn":
        return [
            gxe.ExpectColumnValuesToMatchRegex(column="certno", regex="^[0-9]{17}[0-9Xx]$",
                                               **_m("code_shape:certno", CRITICAL)),
            _rows("born_before_snapshot", WARNING, "birth date not after the snapshot date",
                  "brdy > snapshot_date"),
            _rows("death_after_birth", CRITICAL, "death_date, when set, is not before brdy",
                  "death_date < brdy"),
        ]
    if n in ("ref_psn_special_dise", "ref_medins", "ref_practitioner"):
        return [_rows("validity_ordered", CRITICAL, "end_date, when set, is not before begn_date",
                      "end_date < begn_date")]
    if n == "ref_med_list":
        return [
            _rows("limits_ordered", CRITICAL, "lmt_age_min <= lmt_age_max when both are set",
                  "lmt_age_min > lmt_age_max"),
            _rows("caps_positive", WARNING, "max_pric and max_days, when set, are positive",
                  "max_pric <= 0 OR max_days <= 0"),
            gxe.ExpectColumnValuesToBeInSet(column="precious_flag", value_set=["0", "1"],
                                            **_m("code_table:precious_flag", WARNING)),
        ]
    return []


def build_suite(kind: Kind) -> gx.ExpectationSuite:
    # expectations passed to the constructor: no data context needed to build a suite
    return gx.ExpectationSuite(name=suite_name(kind), expectations=_common(kind) + _extra(kind),
                               meta={"kind": kind.name, "label_zh": kind.label_zh})


def file_context():
    return gx.get_context(mode="file", project_root_dir=str(EXPECTATIONS_DIR))


def write_suites() -> list[str]:
    """(Re)write every suite into the file context; the JSON is what gets versioned and run."""
    ctx = file_context()
    names = []
    for kind in KINDS.values():
        s = build_suite(kind)
        try:
            ctx.suites.delete(s.name)
        except Exception:  # noqa: BLE001 - absent on first write
            pass
        ctx.suites.add(s)
        names.append(s.name)
    return names


if __name__ == "__main__":
    for n in write_suites():
        print(f"wrote suite {n}", file=sys.stderr)
