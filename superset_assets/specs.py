"""The dashboards as compact Python data; `python -m superset_assets.build` renders them as
Superset's import YAML under superset_assets/assets/ (committed, so a reviewer reads plain YAML).

Why generated: every chart needs a form_data (what the browser renders) and a
query_context (what /api/v1/chart/{id}/data/ and reports run) that must agree;
writing both by hand for 20+ charts drifts. UUIDs are uuid5 of fixed names, so
they never change between builds.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal

NS = uuid.UUID("6d1f3c1e-8f53-4c1b-9a51-2f0f4a3b7e10")


def fixed_uuid(name: str) -> str:
    return str(uuid.uuid5(NS, name))


DATABASE_NAME = "医保数仓 warehouse"
DATABASE_UUID = fixed_uuid("database:warehouse")


@dataclass(frozen=True)
class Column:
    name: str
    verbose: str
    type: str = "VARCHAR"
    is_dttm: bool = False


@dataclass(frozen=True)
class Metric:
    name: str
    verbose: str
    expression: str
    d3format: str | None = None


@dataclass(frozen=True)
class Dataset:
    key: str
    table: str
    description: str
    columns: tuple[Column, ...]
    metrics: tuple[Metric, ...]
    sql: str | None = None  # set = virtual dataset
    main_dttm_col: str | None = "month"
    schema: str | None = "marts"

    @property
    def uuid(self) -> str:
        return fixed_uuid(f"dataset:{self.key}")


# table = aggregated rows (metrics per group); raw = rows as they are
Viz = Literal["big_number", "line", "bar", "pie", "table", "raw"]


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    viz: Viz
    dataset: str
    metrics: tuple[str, ...] = ()
    groupby: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()  # raw tables
    where: str = ""  # fixed SQL filter (also applied by the tests' SQL)
    order_by: str | None = None  # metric or column, descending
    row_limit: int = 10000
    compare_lag: int = 1
    compare_suffix: str = "环比 MoM"
    number_format: str = "SMART_NUMBER"
    width: int = 4
    height: int = 50

    @property
    def uuid(self) -> str:
        return fixed_uuid(f"chart:{self.key}")


@dataclass(frozen=True)
class NativeFilter:
    key: str
    name: str
    kind: str  # time | select
    dataset: str | None = None
    column: str | None = None


@dataclass(frozen=True)
class Dashboard:
    key: str
    slug: str
    title: str
    subtitle: str
    rows: tuple[tuple[str, ...], ...]
    filters: tuple[NativeFilter, ...] = field(default_factory=tuple)

    @property
    def uuid(self) -> str:
        return fixed_uuid(f"dashboard:{self.key}")


# --- datasets ---------------------------------------------------------------------------
# Virtual datasets over the marts (docs/marts.md): each renames the mart's columns to the
# names the charts and native filters share (month, admdvs, hosp_lv, fixmedins_name ...), so a
# filter applies across datasets and a mart rename touches one SQL string here.

_INST_COLS = (
    Column("fixmedins_code", "机构编码 Institution code"),
    Column("fixmedins_name", "机构名称 Institution"),
    Column("admdvs", "医保区划 Region"),
    Column("hosp_lv", "医院等级 Institution level"),
)
_MONTH = Column("month", "月份 Month", "DATE", is_dttm=True)
_FUND_COLS = (
    Column("visits", "人次 Visits", "BIGINT"),
    Column("persons", "人数 Persons", "BIGINT"),
    Column("medfee_amount", "医疗总费用 Medical fee", "NUMERIC"),
    Column("fund_amount", "基金支付 Fund payment", "NUMERIC"),
    Column("drug_amount", "药品费用 Drug fee", "NUMERIC"),
)
_FUND_METRICS = (
    Metric("visits", "人次 Visits", "SUM(visits)", ",d"),
    Metric("persons", "人数 Persons", "SUM(persons)", ",d"),
    Metric("medfee", "医疗总费用 Fee (yuan)", "SUM(medfee_amount)", ",.2f"),
    Metric("fund", "基金支付 Fund payment (yuan)", "SUM(fund_amount)", ",.2f"),
    Metric("fee_per_visit", "次均费用 Fee per visit", "SUM(medfee_amount) / NULLIF(SUM(visits), 0)", ",.2f"),
    Metric("drug_share", "药占比 Drug share", "SUM(drug_amount) / NULLIF(SUM(medfee_amount), 0)", ".1%"),
)
_FUND_SELECT = ("visits, persons, total_fee AS medfee_amount, fund_pay AS fund_amount, "
                "drug_fee AS drug_amount")


def _names_join(alias: str) -> str:
    """The institution name beside marts that carry only the code."""
    return ("LEFT JOIN (SELECT fixmedins_code, max(fixmedins_name) AS fixmedins_name "
            f"FROM marts.mart_institution_monthly GROUP BY fixmedins_code) AS n ON {alias}.fixmedins_code = "
            "n.fixmedins_code")


CITY = Dataset(
    key="fund_overview",
    table="基金运行总览 fund_overview_monthly",
    description="全市月度指标 City-wide monthly KPIs (distinct persons counted once)",
    columns=(_MONTH, *_FUND_COLS),
    metrics=_FUND_METRICS,
    sql=f"SELECT stat_month AS month, {_FUND_SELECT} FROM marts.mart_fund_overview_monthly",
)

FUND = Dataset(
    key="institution_monthly",
    table="机构月度 institution_monthly",
    description="机构月度指标 Monthly indicators per institution",
    columns=(_MONTH, *_INST_COLS, *_FUND_COLS),
    metrics=_FUND_METRICS,
    sql=("SELECT stat_month AS month, fixmedins_code, fixmedins_name, admdvs, hosp_lv, "
         f"{_FUND_SELECT} FROM marts.mart_institution_monthly"),
)

INSUTYPE = Dataset(
    key="insutype_monthly",
    table="险种月度 insutype_monthly",
    description="险种月度指标 Monthly indicators per insurance type",
    columns=(_MONTH, Column("insutype", "险种 Insurance type"), *_FUND_COLS),
    metrics=_FUND_METRICS,
    sql=f"SELECT stat_month AS month, insutype, {_FUND_SELECT} FROM marts.mart_insutype_monthly",
)

RANKINGS = Dataset(
    key="rankings",
    table="排行 rankings",
    description="排行 Rankings (city-wide) of institutions, departments, physicians, diseases and persons",
    columns=(
        _MONTH,
        Column("dimension", "维度 Dimension"),
        Column("member_code", "编码 Code"),
        *_INST_COLS,
        Column("medfee_amount", "医疗总费用 Fee", "NUMERIC"),
        Column("fund_amount", "基金支付 Fund payment", "NUMERIC"),
        Column("fee_mom_growth", "费用环比 Fee MoM growth", "NUMERIC"),
        Column("suspect_amount", "疑点金额 Suspect amount", "NUMERIC"),
        Column("rank_fee", "费用排名 Rank by fee", "BIGINT"),
    ),
    metrics=(
        Metric("medfee", "医疗总费用 Fee (yuan)", "SUM(medfee_amount)", ",.2f"),
        Metric("fund", "基金支付 Fund payment (yuan)", "SUM(fund_amount)", ",.2f"),
        Metric("suspect", "疑点金额 Suspect amount (yuan)", "SUM(suspect_amount)", ",.2f"),
    ),
    # mart_rankings is long (one row per metric); mart_rankings_pivot holds its city-wide ranking
    # pivoted back to columns with the names, so a chart only aggregates (docs/benchmarks.md).
    sql=("SELECT stat_month AS month, dimension, member_key AS member_code, fixmedins_code, fixmedins_name, "
         "admdvs, hosp_lv, total_fee AS medfee_amount, fund_pay AS fund_amount, total_fee_mom AS fee_mom_growth, "
         "suspect_amount, rank_fee FROM marts.mart_rankings_pivot"),
)

PEERS = Dataset(
    key="peer_distribution",
    table="同级比较 peer_comparison",
    description="同级同类比较 Peer comparison: each institution against institutions of its level",
    columns=(
        _MONTH,
        *_INST_COLS,
        Column("measure", "指标 Measure"),
        Column("institution_value", "本机构 Institution value", "NUMERIC"),
        Column("peer_mean", "同级均值 Peer mean", "NUMERIC"),
        Column("z_score", "偏离度 z-score", "NUMERIC"),
        Column("is_outlier", "异常 Outlier", "BOOLEAN"),
    ),
    metrics=(Metric("institutions", "机构数 Institutions", "COUNT(DISTINCT fixmedins_code)", ",d"),),
    sql=("SELECT p.stat_month AS month, p.fixmedins_code, n.fixmedins_name, p.admdvs, p.hosp_lv, p.measure, "
         "p.institution_value, p.peer_mean, p.z_score, p.is_outlier "
         f"FROM marts.mart_peer_comparison AS p {_names_join('p')}"),
)

_VIO_COLS = (
    _MONTH,
    Column("business_date", "发生日期 Event date", "DATE", is_dttm=True),
    *_INST_COLS,
    Column("violation_id", "疑点编号 Suspect id"),
    Column("rule_code", "规则 Rule code"),
    Column("rule_name", "规则名称 Rule"),
    Column("rule_explanation", "规则说明 Explanation"),
    Column("disposition", "处置 Disposition"),
    Column("severity", "严重程度 Severity"),
    Column("dept_codg", "科室 Department"),
    Column("prac_codg", "医师 Physician"),
    Column("psn_name_masked", "参保人(脱敏) Person (masked)"),
    Column("mdtrt_id", "就诊ID Visit id"),
    Column("feedetl_sn", "明细流水号 Fee line"),
    Column("amount", "疑点金额 Amount", "NUMERIC"),
    Column("evidence_text", "证据 Evidence"),
)
_VIO_METRICS = (
    Metric("suspects", "疑点数 Suspects", "COUNT(*)", ",d"),
    Metric("suspect_amount", "疑点金额 Suspect amount (yuan)", "SUM(amount)", ",.2f"),
)
_VIO_SQL = ("SELECT stat_month AS month, business_date, fixmedins_code, fixmedins_name, admdvs, hosp_lv, "
            "violation_id, rule_code, rule_name_zh || ' ' || rule_name_en AS rule_name, "
            "rule_description AS rule_explanation, disposition || ' ' || disposition_zh AS disposition, severity, "
            "dept_codg, prac_codg, psn_name_masked, mdtrt_id, feedetl_sn, amount, evidence_text "
            "FROM marts.mart_hospital_violations")

VIOLATIONS = Dataset(
    key="violations",
    table="疑点 violations",
    description="疑点明细 Every suspect with rule, disposition and evidence (auditors)",
    columns=_VIO_COLS,
    metrics=_VIO_METRICS,
    sql=_VIO_SQL,
)

# A separate dataset for dashboard 4, so a hospital role is granted this one only and never
# the auditors' datasets; Superset's row-level security adds the institution clause.
OWN = Dataset(
    key="own_violations",
    table="本院疑点 own_violations",
    description="本院疑点 A hospital's own suspects (row-level security by fixmedins_code)",
    columns=_VIO_COLS,
    metrics=_VIO_METRICS,
    sql=_VIO_SQL,
)

# The violations dashboard's group-by charts: the same figures from mart_violation_counts (one
# row per month x institution x rule x disposition x severity) instead of aggregating the wide
# detail mart on every query; the columns the dashboard's native filters use keep their names.
VIOLATION_COUNTS = Dataset(
    key="violation_counts",
    table="疑点计数 violation_counts",
    description="疑点计数 Suspects and amounts per month, institution, rule, disposition and severity (auditors)",
    columns=(
        _MONTH,
        *_INST_COLS,
        Column("rule_code", "规则 Rule code"),
        Column("rule_name", "规则名称 Rule"),
        Column("disposition", "处置 Disposition"),
        Column("severity", "严重程度 Severity"),
        Column("suspect_count", "疑点数 Suspects", "BIGINT"),
        Column("amount", "疑点金额 Amount", "NUMERIC"),
    ),
    metrics=(
        Metric("suspects", "疑点数 Suspects", "SUM(suspect_count)", ",d"),
        Metric("suspect_amount", "疑点金额 Suspect amount (yuan)", "SUM(amount)", ",.2f"),
    ),
    sql=("SELECT stat_month AS month, fixmedins_code, fixmedins_name, admdvs, hosp_lv, rule_code, "
         "rule_name_zh || ' ' || rule_name_en AS rule_name, disposition || ' ' || disposition_zh AS disposition, "
         "severity, suspect_count, amount FROM marts.mart_violation_counts"),
)

DATASETS = (CITY, FUND, INSUTYPE, RANKINGS, PEERS, VIOLATIONS, OWN, VIOLATION_COUNTS)

# --- charts -----------------------------------------------------------------------------
# Six chart shapes cover every dashboard; each builder below fixes what a shape always has
# (viz, dataset, grouping, ordering, size), so a chart line states only what differs. The key
# names the UUID (fixed_uuid("chart:<key>")): never rename a key of a deployed chart.

MOM, YOY = (1, "环比 MoM"), (12, "同比 YoY")


def kpi(key: str, title: str, metric: str, number_format: str = "SMART_NUMBER",
        compare: tuple[int, str] = MOM, width: int = 4) -> Chart:
    """A big number of the latest month of the city-wide series, compared with `compare` months before."""
    lag, suffix = compare
    return Chart(key, title, "big_number", "fund_overview", (metric,), number_format=number_format,
                 compare_lag=lag, compare_suffix=suffix, width=width)


def trend(key: str, title: str, viz: Literal["line", "bar"], dataset: str, metrics: tuple[str, ...],
          by: str) -> Chart:
    """A monthly line or stacked-bar series per value of `by` (half width)."""
    return Chart(key, title, viz, dataset, metrics, groupby=(by,), width=6)


def ranking(dimension: str, title: str) -> Chart:
    """Top 20 members of one mart_rankings dimension by fee, with fund payment and suspect amount."""
    return Chart(f"rank_{dimension}", title, "table", "rankings", ("medfee", "fund", "suspect"),
                 groupby=("member_code",), where=f"dimension = '{dimension}'", order_by="medfee",
                 row_limit=20, width=6)


def breakdown(key: str, title: str, dataset: str, metrics: tuple[str, ...], by: tuple[str, ...],
              width: int = 6) -> Chart:
    """Metrics per group, largest last metric first (a table)."""
    return Chart(key, title, "table", dataset, metrics, groupby=by, order_by=metrics[-1], width=width)


def share(key: str, title: str, metric: str, by: str) -> Chart:
    """One metric of the violations split by `by` (a quarter-width donut)."""
    return Chart(key, title, "pie", "violation_counts", (metric,), groupby=(by,), width=3)


def listing(key: str, title: str, dataset: str, columns: tuple[str, ...], order_by: str, where: str = "",
            row_limit: int = 10000, width: int = 12, height: int = 80) -> Chart:
    """Rows as they are (a raw table, filterable and exportable), largest `order_by` first."""
    return Chart(key, title, "raw", dataset, columns=columns, where=where, order_by=order_by,
                 row_limit=row_limit, width=width, height=height)


_RANK_DIMS = (
    ("institution", "机构排行 Institutions"),
    ("department", "科室排行 Departments"),
    ("physician", "医师排行 Physicians"),
    ("disease", "病种排行 Diseases"),
    ("person", "参保人排行 Persons"),
)
_VIO = ("suspects", "suspect_amount")
_OWN_COLUMNS = ("business_date", "rule_code", "rule_name", "rule_explanation", "disposition", "dept_codg",
                "prac_codg", "psn_name_masked", "mdtrt_id", "feedetl_sn", "amount", "evidence_text")

CHARTS = (
    kpi("kpi_visits", "人次 Visits", "visits", ",d"),
    kpi("kpi_persons", "人数 Persons", "persons", ",d"),
    kpi("kpi_fee", "医疗总费用 Medical fee", "medfee"),
    kpi("kpi_fund", "基金支付 Fund payment", "fund"),
    kpi("kpi_fee_per_visit", "次均费用 Fee per visit", "fee_per_visit", ",.2f"),
    kpi("kpi_drug_share", "药占比 Drug share", "drug_share", ".1%"),
    kpi("kpi_fee_yoy", "医疗总费用同比 Fee YoY", "medfee", compare=YOY, width=6),
    kpi("kpi_fund_yoy", "基金支付同比 Fund payment YoY", "fund", compare=YOY, width=6),
    trend("trend_insutype", "月度费用·险种 Monthly fee by insurance type", "line", "insutype_monthly",
          ("medfee", "fund"), "insutype"),
    trend("trend_hosp_lv", "月度基金支付·医院等级 Monthly fund payment by level", "bar", "institution_monthly",
          ("fund",), "hosp_lv"),
    *(ranking(dim, title) for dim, title in _RANK_DIMS),
    listing("rank_growth", "费用增长排行 Institutions by fee growth", "rankings",
            ("month", "member_code", "fixmedins_name", "hosp_lv", "medfee_amount", "fee_mom_growth"),
            "fee_mom_growth", where="dimension = 'institution' AND fee_mom_growth IS NOT NULL",
            row_limit=20, width=6, height=50),
    listing("peer_outliers", "同级偏离 Peer deviation (z-score; outliers flagged)", "peer_distribution",
            ("month", "fixmedins_code", "fixmedins_name", "hosp_lv", "measure", "institution_value",
             "peer_mean", "z_score", "is_outlier"),
            "z_score", where="z_score IS NOT NULL", row_limit=200, height=50),
    breakdown("vio_by_rule", "规则 By rule", "violation_counts", _VIO, ("rule_code", "rule_name")),
    share("vio_by_disposition", "处置 By disposition", "suspect_amount", "disposition"),
    share("vio_by_severity", "严重程度 By severity", "suspects", "severity"),
    breakdown("vio_by_institution", "机构 By institution", "violation_counts", _VIO,
              ("fixmedins_code", "fixmedins_name")),
    trend("vio_by_month", "月度疑点 Suspect amount by month", "bar", "violation_counts", ("suspect_amount",),
          "disposition"),
    listing("vio_detail", "疑点明细 Suspect details (filter and export)", "violations",
            ("business_date", "fixmedins_name", "rule_code", "rule_name", "disposition", "severity", "dept_codg",
             "prac_codg", "psn_name_masked", "mdtrt_id", "feedetl_sn", "amount", "evidence_text"), "amount"),
    breakdown("own_by_rule", "本院疑点·规则 My suspects by rule", "own_violations", _VIO,
              ("rule_code", "rule_name", "rule_explanation"), width=12),
    listing("own_detail", "本院疑点明细 My suspects (download CSV/XLSX)", "own_violations", _OWN_COLUMNS,
            "amount"),
)

# --- dashboards -------------------------------------------------------------------------


def _std_filters(dataset: str) -> tuple[NativeFilter, ...]:
    return (
        NativeFilter("month", "月份 Month", "time"),
        NativeFilter("region", "区划 Region", "select", dataset, "admdvs"),
        NativeFilter("level", "医院等级 Institution level", "select", dataset, "hosp_lv"),
        NativeFilter("institution", "机构 Institution", "select", dataset, "fixmedins_name"),
    )


DASHBOARDS = (
    Dashboard(
        "fund_overview", "fund-overview", "基金运行总览 Fund overview",
        "Fund overview: visits, persons, fee, fund payment, fee per visit and drug share, "
        "month on month (环比) and year on year (同比)",
        rows=(
            ("kpi_visits", "kpi_persons", "kpi_fee"),
            ("kpi_fund", "kpi_fee_per_visit", "kpi_drug_share"),
            ("kpi_fee_yoy", "kpi_fund_yoy"),
            ("trend_insutype", "trend_hosp_lv"),
        ),
        filters=_std_filters("institution_monthly"),
    ),
    Dashboard(
        "rankings", "rankings", "排行 Rankings",
        "Rankings: institutions, departments, physicians, diseases and persons by fee, fund payment, "
        "growth and suspect amount; peer-deviation outliers",
        rows=(
            ("rank_institution", "rank_department"),
            ("rank_physician", "rank_disease"),
            ("rank_person", "rank_growth"),
            ("peer_outliers",),
        ),
        filters=_std_filters("rankings"),
    ),
    Dashboard(
        "violations", "violations", "违规分类 Violations",
        "Violations: suspects and amounts by rule, disposition (deduct / hospital review / pending review), "
        "severity, institution and month, with an exportable detail table",
        rows=(
            ("vio_by_rule", "vio_by_disposition", "vio_by_severity"),
            ("vio_by_institution", "vio_by_month"),
            ("vio_detail",),
        ),
        # value lists from the narrow counts mart; the same column names exist in the detail dataset
        filters=(*_std_filters("violation_counts"),
                 NativeFilter("rule", "规则 Rule", "select", "violation_counts", "rule_name")),
    ),
    Dashboard(
        "my_institution", "my-institution", "本院违规 My institution",
        "My institution: this hospital's own suspects with the rule explanations; "
        "download the detail table as CSV or XLSX from its menu",
        rows=(("own_by_rule",), ("own_detail",)),
        filters=(
            NativeFilter("month", "月份 Month", "time"),
            NativeFilter("rule", "规则 Rule", "select", "own_violations", "rule_name"),
        ),
    ),
)

DATASET_BY_KEY = {d.key: d for d in DATASETS}
CHART_BY_KEY = {c.key: c for c in CHARTS}
DASHBOARD_BY_KEY = {d.key: d for d in DASHBOARDS}
