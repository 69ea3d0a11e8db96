"""Hand-made marts for the Superset tests when the dbt marts cannot be built.

Same tables and columns as the dashboards read (docs/superset.md, "What the
dashboards read"); a few institutions over four months with figures chosen
so every chart has rows, one institution sits far from its peers, and every
disposition appears.
"""

from __future__ import annotations

import psycopg

INSTITUTIONS = (
    # code, name, region, level
    ("H33020300001", "第一人民医院", "330203", "3"),
    ("H33020400002", "第二医院", "330204", "2"),
    ("H33020300003", "社区卫生服务中心", "330203", "1"),
    ("P33020300009", "仁心大药房", "330203", "9"),
)
MONTHS = ("2023-12-01", "2024-01-01", "2024-02-01", "2024-03-01")
RULES = (
    ("R04", "超量开药 supply over limit", "hospital_review", "yellow", "药品天数超过限定 prd_days over the limit"),
    ("R07", "限性别 gender-restricted item", "deduct", "red", "项目限定性别与参保人不符 item restricted to the other gender"),
    ("R13", "住院期间门诊购药 outpatient claims during a stay", "pending_review", "green",
     "住院期间发生门诊结算 an outpatient visit during an inpatient stay"),
)

DDL = """
CREATE SCHEMA IF NOT EXISTS marts;
CREATE SCHEMA IF NOT EXISTS catalogue;
CREATE TABLE catalogue.dim_institution (fixmedins_code text, fixmedins_name text, hosp_lv text, admdvs text,
    valid_from date, valid_to date);
CREATE TABLE marts.mart_institution_monthly (month date, fixmedins_code text, fixmedins_name text, admdvs text,
    hosp_lv text, insutype text, visits bigint, persons bigint, medfee_amount numeric(14, 2),
    fund_amount numeric(14, 2), drug_amount numeric(14, 2));
CREATE TABLE marts.mart_rankings (month date, dimension text, member_code text, member_name text,
    fixmedins_code text, fixmedins_name text, admdvs text, hosp_lv text, medfee_amount numeric(14, 2),
    fund_amount numeric(14, 2), fee_mom_growth numeric(10, 4), suspect_amount numeric(14, 2), rank_fee bigint);
CREATE TABLE marts.mart_peer_distribution (month date, fixmedins_code text, fixmedins_name text, admdvs text,
    hosp_lv text, fee_per_visit numeric(12, 2), peer_p50 numeric(12, 2), peer_p90 numeric(12, 2),
    z_score numeric(8, 3));
CREATE TABLE marts.mart_hospital_violations (violation_id text PRIMARY KEY, month date, business_date date,
    fixmedins_code text, fixmedins_name text, admdvs text, hosp_lv text, rule_code text, rule_name text,
    rule_explanation text, disposition text, severity text, dept_codg text, prac_codg text, psn_no_masked text,
    mdtrt_id text, feedetl_sn text, amount numeric(14, 2), evidence_text text);
"""


def create_sample_marts(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(DDL)
        for code, name, region, lv in INSTITUTIONS:
            conn.execute("INSERT INTO catalogue.dim_institution VALUES (%s, %s, %s, %s, '2023-01-01', NULL)",
                         (code, name, lv, region))
        prev_fee: dict[str, float] = {}
        for m_i, month in enumerate(MONTHS):
            for i_i, (code, name, region, lv) in enumerate(INSTITUTIONS):
                inst_fee = 0.0
                for t_i, insutype in enumerate(("310", "390")):
                    visits = 100 * (i_i + 1) + 10 * m_i + 7 * t_i
                    persons = visits // 2 + 3
                    fee = round(visits * (150.5 + 20 * i_i + 3 * m_i), 2)
                    conn.execute(
                        "INSERT INTO marts.mart_institution_monthly VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                        (month, code, name, region, lv, insutype, visits, persons, fee, round(fee * 0.62, 2),
                         round(fee * (0.31 + 0.01 * i_i), 2)))
                    inst_fee += fee
                growth = None if code not in prev_fee else round(inst_fee / prev_fee[code] - 1, 4)
                prev_fee[code] = inst_fee
                suspect = round(50.0 * (i_i + 1) + m_i, 2)
                members = (
                    ("institution", code, name),
                    ("department", f"{code}-A01", f"{name}·内科"),
                    ("physician", f"D33020300{i_i:04d}", f"医师{i_i}"),
                    ("disease", f"E1{i_i}", f"病种 E1{i_i}"),
                    ("person", f"PSN***{i_i:03d}", f"参保人{i_i}"),
                )
                for dim, mcode, mname in members:
                    share = 1.0 if dim == "institution" else 0.4
                    conn.execute(
                        "INSERT INTO marts.mart_rankings VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                        (month, dim, mcode, mname, code, name, region, lv, round(inst_fee * share, 2),
                         round(inst_fee * share * 0.62, 2), growth, round(suspect * share, 2), i_i + 1))
                fpv = round(150.5 + 20 * i_i + 3 * m_i + (400 if code == "H33020400002" else 0), 2)
                z = 2.5 if code == "H33020400002" else round(-0.5 + 0.3 * i_i, 3)
                conn.execute("INSERT INTO marts.mart_peer_distribution VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                             (month, code, name, region, lv, fpv, 180.0, 260.0, z))
                for r_i, (rule, rname, disp, sev, expl) in enumerate(RULES):
                    for k in range(1 + (i_i + r_i + m_i) % 3):
                        vid = f"v-{m_i}-{i_i}-{r_i}-{k}"
                        day = f"{month[:8]}{10 + k:02d}"
                        conn.execute(
                            "INSERT INTO marts.mart_hospital_violations VALUES "
                            "(%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                            (vid, month, day, code, name, region, lv, rule, rname, expl, disp, sev, "A01",
                             f"D33020300{i_i:04d}", f"PSN***{k:03d}", f"MD{m_i}{i_i}{r_i}{k}", f"{k + 1:06d}",
                             round(12.34 * (k + 1) + r_i + i_i, 2), f"threshold 7, prd_days {8 + k}"))
