"""Dashboard queries on a year of city-scale marts: p95 of every chart's SQL over 20 runs (issue 10).

  python -m bench.bench_dashboards [--runs 20] [--violations-per-month 100000] [--keep]

1. A fresh database mfm_bench_dash gets the current dbt project built on an
   empty warehouse (`dbt seed` + `dbt run`): every marts table with the
   indexes, grants and row-level security the models configure.
2. The tables the Superset datasets read (superset_assets/specs.py) are
   filled directly with 12 months for a city's 1,500 institutions (900
   hospitals, 600 pharmacies): mart_institution_monthly,
   mart_fund_overview_monthly, mart_insutype_monthly, mart_rankings
   (institutions, ~7,200 departments, 20,000 physicians, diseases, the top
   1,000 persons per metric a month as the model keeps them;
   city/level/region scopes), mart_peer_comparison and
   mart_hospital_violations (--violations-per-month suspects), then ANALYZEd.
   The narrow marts the dashboards read (mart_rankings_pivot,
   mart_violation_counts) are then built from those by the real models
   (`dbt run --select`), with their indexes and VACUUM (ANALYZE).
3. Every chart's query is compiled from its stored query_context
   (superset_assets/assets/charts/*.yaml) the way Superset's PostgreSQL
   engine does: the dataset's SQL as `virtual_table`, the time grain as
   DATE_TRUNC, metrics from the dataset, `extras.where`, order, row limit;
   charts of the hospital dataset add the row-level-security clause of one
   institution. Each runs `--runs` times; p50/p95/max are reported.
Target: p95 < 1 s for every chart.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import psycopg
import yaml

from bench.common import (
    drop_database,
    fresh_database,
    load_average,
    log,
    md_table,
    run_dbt,
    write_result,
)
from ingestion.schema import ensure_schema
from superset_assets import specs
from warehouse.config import REPO_ROOT

CHARTS_DIR = REPO_ROOT / "superset_assets" / "assets" / "charts"
# built by dbt from the synthesized marts: the same SQL, indexes and hooks as in production
DERIVED_MODELS = ("mart_rankings_pivot", "mart_violation_counts")
MONTHS = ("2023-04-01", "2024-03-01")

SYNTH_SQL = [
    # institutions as the city generator codes them (H/P + region + 5 digits)
    """CREATE TEMP TABLE inst AS
       SELECT k, (CASE WHEN k < 900 THEN 'H' ELSE 'P' END) || r.region || lpad((k / 6 + 1)::text, 5, '0') AS code,
              CASE WHEN k < 900 THEN '1' ELSE '2' END AS fixmedins_type,
              CASE WHEN k < 900 THEN (ARRAY['3','2','2','1','1','1'])[1 + k % 6] ELSE '9' END AS hosp_lv,
              r.region AS admdvs, r.region || '定点机构' || k AS name
       FROM generate_series(0, 1499) AS k
       CROSS JOIN LATERAL (SELECT (ARRAY['330203','330205','330206','330211','330212','330213'])[1 + k % 6]
                           AS region) AS r""",
    "CREATE TEMP TABLE months AS SELECT m::date AS m, row_number() OVER (ORDER BY m) AS mi"
    f" FROM generate_series('{MONTHS[0]}'::date, '{MONTHS[1]}'::date, interval '1 month') AS m",
    "TRUNCATE marts.mart_institution_monthly, marts.mart_fund_overview_monthly, marts.mart_insutype_monthly,"
    " marts.mart_rankings, marts.mart_peer_comparison, marts.mart_hospital_violations",
    """INSERT INTO marts.mart_institution_monthly (stat_month, fixmedins_code, fixmedins_type, hosp_lv, admdvs,
           fixmedins_name, visits, persons, total_fee, fund_pay, drug_fee, herbal_fee, inpatient_stays,
           avg_fee_per_visit, drug_share, fund_pay_ratio, violation_count, suspect_amount)
       SELECT mo.m, i.code, i.fixmedins_type, i.hosp_lv, i.admdvs, i.name, v.visits, (v.visits * 0.8)::bigint,
              v.fee, round(v.fee * 0.6, 2), round(v.fee * 0.35, 2), round(v.fee * 0.03, 2),
              CASE WHEN i.fixmedins_type = '1' THEN v.visits / 30 ELSE 0 END,
              round(v.fee / v.visits, 2), 0.35, 0.6, (v.visits / 100)::bigint, round(v.fee * 0.01, 2)
       FROM inst AS i CROSS JOIN months AS mo
       CROSS JOIN LATERAL (SELECT (3000 + random() * 20000)::bigint AS visits) AS v0
       CROSS JOIN LATERAL (SELECT v0.visits, round(v0.visits * (80 + random() * 200)::numeric, 2) AS fee) AS v""",
    """INSERT INTO marts.mart_fund_overview_monthly (stat_month, visits, persons, total_fee, fund_pay, drug_fee,
           herbal_fee, inpatient_stays, avg_fee_per_visit, drug_share, violation_count, suspect_amount)
       SELECT stat_month, sum(visits), (sum(persons) * 0.7)::bigint, sum(total_fee), sum(fund_pay), sum(drug_fee),
              sum(herbal_fee), sum(inpatient_stays), sum(total_fee) / sum(visits), sum(drug_fee) / sum(total_fee),
              sum(violation_count), sum(suspect_amount)
       FROM marts.mart_institution_monthly GROUP BY stat_month""",
    """INSERT INTO marts.mart_insutype_monthly (stat_month, insutype, visits, persons, total_fee, fund_pay, drug_fee)
       SELECT stat_month, t.insutype, (visits * t.f)::bigint, (persons * t.f)::bigint, round(total_fee * t.f, 2),
              round(fund_pay * t.f, 2), round(drug_fee * t.f, 2)
       FROM marts.mart_fund_overview_monthly
       CROSS JOIN (VALUES ('310', 0.6), ('390', 0.4)) AS t (insutype, f)""",
    # ranking members: institutions, departments (8 per hospital), physicians (~22 per hospital), diseases, persons
    """CREATE TEMP TABLE members AS
       SELECT 'institution' AS dimension, code AS member_key, code AS fixmedins_code, NULL AS dept_codg,
              NULL AS prac_codg, NULL AS dise_category, NULL AS psn_no, hosp_lv, admdvs
       FROM inst
       UNION ALL
       SELECT 'department', code || '|A' || lpad((3 + d)::text, 2, '0'), code, 'A' || lpad((3 + d)::text, 2, '0'),
              NULL, NULL, NULL, hosp_lv, admdvs
       FROM inst CROSS JOIN generate_series(1, 8) AS d WHERE k < 900
       UNION ALL
       SELECT 'physician', 'D' || admdvs || lpad((k * 23 + p)::text, 6, '0'), code, NULL,
              'D' || admdvs || lpad((k * 23 + p)::text, 6, '0'), NULL, NULL, hosp_lv, admdvs
       FROM inst CROSS JOIN generate_series(1, 22) AS p WHERE k < 900
       UNION ALL
       SELECT 'disease', chr(65 + g % 26) || lpad((g % 99)::text, 2, '0'), NULL, NULL, NULL,
              chr(65 + g % 26) || lpad((g % 99)::text, 2, '0'), NULL, NULL, NULL
       FROM generate_series(1, 60) AS g""",
    """INSERT INTO marts.mart_rankings (stat_month, dimension, member_key, fixmedins_code, dept_codg, prac_codg,
           dise_category, psn_no, hosp_lv, admdvs, scope_type, scope_value, metric, metric_value, rank_no,
           dense_rank_no, ranked_count)
       WITH base AS (
           SELECT mo.m, mb.*, me.metric, s.scope_type,
                  CASE s.scope_type WHEN 'city' THEN 'ALL' WHEN 'level' THEN mb.hosp_lv ELSE mb.admdvs END AS scope_value,
                  CASE WHEN me.metric = 'total_fee_mom' THEN round((random() - 0.4)::numeric, 4)
                       ELSE round((random() * 1000000)::numeric, 2) END AS v
           FROM months AS mo CROSS JOIN members AS mb
           CROSS JOIN (VALUES ('total_fee'), ('fund_pay'), ('suspect_amount'), ('total_fee_mom')) AS me (metric)
           CROSS JOIN (VALUES ('city'), ('level'), ('region')) AS s (scope_type)
           WHERE (mb.dimension IN ('institution', 'department', 'physician') OR s.scope_type = 'city')
             AND (me.metric <> 'total_fee_mom' OR mb.dimension = 'institution')
           UNION ALL
           -- persons: the top of each list (the model keeps rank <= mart_person_rank_limit)
           SELECT mo.m, 'person', '33020' || lpad(p::text, 15, '0'), NULL, NULL, NULL, NULL,
                  '33020' || lpad(p::text, 15, '0'), NULL, NULL, me.metric, 'city', 'ALL',
                  round((random() * 50000)::numeric, 2)
           FROM months AS mo
           CROSS JOIN generate_series(1, %(persons)s) AS p
           CROSS JOIN (VALUES ('suspect_amount'), ('total_fee'), ('fund_pay')) AS me (metric)
       )
       SELECT m, dimension, member_key, fixmedins_code, dept_codg, prac_codg, dise_category, psn_no, hosp_lv, admdvs,
              scope_type, scope_value, metric, v,
              rank() OVER w, dense_rank() OVER w, count(*) OVER (PARTITION BY m, dimension, metric, scope_type,
                                                                  scope_value)
       FROM base
       WINDOW w AS (PARTITION BY m, dimension, metric, scope_type, scope_value ORDER BY v DESC)""",
    """INSERT INTO marts.mart_peer_comparison (stat_month, fixmedins_code, hosp_lv, fixmedins_type, admdvs, measure,
           sample_size, institution_value, peer_count, peer_mean, peer_stddev, z_score, deviation_ratio, is_outlier)
       SELECT stat_month, fixmedins_code, hosp_lv, fixmedins_type, admdvs, me.measure, visits,
              avg_fee_per_visit, 150, 150, 40, z, z * 0.2, abs(z) > 2
       FROM marts.mart_institution_monthly
       CROSS JOIN (VALUES ('fee_per_visit'), ('fee_per_stay')) AS me (measure)
       CROSS JOIN LATERAL (SELECT round((random() * 6 - 3)::numeric, 3) AS z) AS zz""",
    """INSERT INTO marts.mart_hospital_violations (violation_id, fixmedins_code, fixmedins_name, hosp_lv, admdvs,
           stat_month, business_date, period_start, rule_code, rule_name_zh, rule_name_en, rule_description,
           rule_version, disposition, disposition_zh, severity, severity_zh, dept_codg, prac_codg, psn_no,
           psn_name_masked, certno_masked, mdtrt_id, feedetl_sn, rxno, amount, evidence_text, evidence, detected_at)
       SELECT md5(mo.m::text || g), i.code, i.name, i.hosp_lv, i.admdvs, mo.m, mo.m + (g % 28), NULL,
              ar.code, ar.name_zh, ar.name_en, ar.description, ar.rule_version, ar.disposition,
              CASE ar.disposition WHEN 'deduct' THEN '违规费用' WHEN 'hospital_review' THEN '发医院核查'
                   ELSE '待核查' END,
              ar.severity, CASE ar.severity WHEN 'red' THEN '红' WHEN 'yellow' THEN '黄' ELSE '绿' END,
              'A' || lpad((3 + g % 8)::text, 2, '0'), 'D' || i.admdvs || lpad((g % 20000)::text, 6, '0'),
              '33020' || lpad((g * 7 % 3000000)::text, 15, '0'), '张*', '330203********123X',
              'M' || to_char(mo.m, 'YYYYMMDD') || lpad(g::text, 9, '0'), lpad(g::text, 12, '0'), NULL,
              round((random() * 500)::numeric, 2),
              'line_amount: 12.30; prd_days: 10; rule_version: 1.0.0; threshold: 7',
              jsonb_build_object('threshold', 7, 'prd_days', 10, 'rule_version', '1.0.0'), now()
       FROM months AS mo
       CROSS JOIN generate_series(1, %(violations)s) AS g
       JOIN inst AS i ON i.k = (g * 37 + mo.mi) % 1500
       JOIN (SELECT row_number() OVER (ORDER BY code) - 1 AS rn, code, name_zh, name_en, description, rule_version,
                    disposition, severity FROM ref.audit_rules) AS ar ON ar.rn = g % 16""",
]


def synthesize(url: str, violations_per_month: int, persons_per_month: int) -> dict[str, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET work_mem = '256MB'")
        conn.execute("SET synchronous_commit = off")
        cols = {r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'ref'"
            " AND table_name = 'audit_rules'").fetchall()}
        for stmt in SYNTH_SQL:
            if "ref.audit_rules" in stmt:
                stmt = _audit_rules_columns(stmt, cols)
            # sizes are ints formatted in; the SQL's own % are modulo operators, not placeholders
            conn.execute(stmt.replace("%(violations)s", str(int(violations_per_month)))
                         .replace("%(persons)s", str(int(persons_per_month))))
        counts = {}
        for t in ("mart_institution_monthly", "mart_fund_overview_monthly", "mart_insutype_monthly", "mart_rankings",
                  "mart_peer_comparison", "mart_hospital_violations"):
            conn.execute(f"VACUUM ANALYZE marts.{t}")
            counts[t] = int(conn.execute(f"SELECT count(*) FROM marts.{t}").fetchone()[0])
    return counts


def derived_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {t: int(conn.execute(f"SELECT count(*) FROM marts.{t}").fetchone()[0]) for t in DERIVED_MODELS}


def _audit_rules_columns(stmt: str, cols: set[str]) -> str:
    """The rule seed's column names (name_zh/name_en/description may be named differently)."""
    def pick(*names: str) -> str:
        return next((n for n in names if n in cols), "NULL")

    sub = (f"SELECT row_number() OVER (ORDER BY code) - 1 AS rn, code, {pick('name_zh', 'rule_name_zh')} AS name_zh,"
           f" {pick('name_en', 'rule_name_en')} AS name_en, {pick('description', 'rule_description')} AS description,"
           " rule_version, disposition, severity FROM ref.audit_rules")
    start = stmt.index("(SELECT row_number()")
    end = stmt.index(") AS ar")
    return stmt[:start] + "(" + sub + stmt[end:]


def chart_queries() -> list[dict[str, Any]]:
    """Each chart's SQL, compiled from its query_context as Superset's PostgreSQL engine would."""
    ds_by_uuid = {d.uuid: d for d in specs.DATASETS}
    out = []
    for path in sorted(CHARTS_DIR.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        qc = doc["query_context"]
        qc = json.loads(qc) if isinstance(qc, str) else qc
        q = qc["queries"][0]
        ds = ds_by_uuid[doc["dataset_uuid"]]
        metrics = {m.name: m.expression for m in ds.metrics}
        select, group = [], []
        for c in q.get("columns", []):
            if isinstance(c, dict):
                grain = c.get("timeGrain")
                expr = f"DATE_TRUNC('month', {c['sqlExpression']})" if grain == "P1M" else c["sqlExpression"]
                select.append(f"{expr} AS {c['label']}")
                group.append(expr)
            else:
                select.append(c)
                group.append(c)
        for m in q.get("metrics", []):
            name = m if isinstance(m, str) else m["label"]
            select.append(f"{metrics[name] if isinstance(m, str) else m['sqlExpression']} AS {name}")
        conds = [f"({q['extras']['where']})"] if q.get("extras", {}).get("where") else []
        if ds.key == "own_violations":
            conds.append("(fixmedins_code = %(own)s)")  # Superset's row-level security for one hospital
        where = f" WHERE {' AND '.join(conds)}" if conds else ""
        group_by = f" GROUP BY {', '.join(group)}" if q.get("metrics") and group else ""
        order = ""
        if q.get("orderby"):
            col, asc = q["orderby"][0]
            order = f" ORDER BY {col} {'ASC' if asc else 'DESC'}"
        elif q.get("metrics"):
            order = f" ORDER BY {q['metrics'][0]} DESC"
        sql = (f"SELECT {', '.join(select)} FROM ({ds.sql}) AS virtual_table{where}{group_by}{order}"
               f" LIMIT {q.get('row_limit') or 10000}")
        out.append({"chart": path.stem, "dataset": ds.key, "viz": doc.get("viz_type"), "sql": sql})
    return out


def measure(url: str, runs: int, only: set[str] | None = None) -> list[dict[str, Any]]:
    results = []
    with psycopg.connect(url, autocommit=True) as conn:
        own = conn.execute("SELECT fixmedins_code FROM marts.mart_hospital_violations GROUP BY 1 ORDER BY count(*) DESC"
                           " LIMIT 1").fetchone()
        for q in chart_queries():
            if only and q["chart"] not in only:
                continue
            q["sql"] = q["sql"].replace("%(own)s", f"'{own[0] if own else ''}'")
            times, rows = [], 0
            conn.execute(q["sql"]).fetchall()  # warm the cache once, as a dashboard reload would
            for _ in range(runs):
                t = time.monotonic()
                rows = len(conn.execute(q["sql"]).fetchall())
                times.append(time.monotonic() - t)
            times.sort()
            p95 = times[max(0, int(round(0.95 * len(times))) - 1)]
            results.append({**q, "rows": rows, "p50_s": round(statistics.median(times), 4), "p95_s": round(p95, 4),
                            "max_s": round(times[-1], 4), "meets_target": p95 < 1.0, "load_average": load_average()})
            log(f"{q['chart']:<22} p95 {p95 * 1000:7.1f} ms  ({rows} rows)")
    return results


def explain(url: str, sql: str) -> str:
    with psycopg.connect(url) as conn:
        return "\n".join(r[0] for r in conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}").fetchall())


def run(runs: int = 20, violations_per_month: int = 100_000, persons_per_month: int = 1_000,
        keep: bool = False, reuse: bool = False, tag: str = "", only: set[str] | None = None) -> dict[str, Any]:
    from bench.common import database_exists, database_url

    t0 = time.monotonic()
    if reuse and database_exists("dash"):
        url = database_url("dash")
        counts = {}
    else:
        url = fresh_database("dash")
        with psycopg.connect(url, autocommit=True) as conn:
            ensure_schema(conn)
        log("dbt seed + run on an empty warehouse (the marts' tables, indexes and security as configured)")
        run_dbt(url, ["seed"], "dash")
        run_dbt(url, ["run"], "dash")
        log("synthesizing 12 months of marts for 1,500 institutions")
        counts = synthesize(url, violations_per_month, persons_per_month)
        log(f"dbt run of {', '.join(DERIVED_MODELS)} on the synthesized marts")
        run_dbt(url, ["run", "--select", *DERIVED_MODELS], "dash")
        counts.update(derived_counts(url))
        log(f"marts rows: {counts}")
    try:
        results = measure(url, runs, only)
        slow = [r for r in results if not r["meets_target"]]
        plans = {r["chart"]: explain(url, r["sql"]) for r in slow}
        data = {"runs": runs, "violations_per_month": violations_per_month, "persons_per_month": persons_per_month,
                "marts_rows": counts, "charts": results, "slow_plans": plans,
                "all_meet_target": not slow, "seconds": round(time.monotonic() - t0, 1), "tag": tag}
        rows = [(r["chart"], r["dataset"], r["rows"], f"{r['p50_s'] * 1000:.0f}", f"{r['p95_s'] * 1000:.0f}",
                 "yes" if r["meets_target"] else "**no**") for r in results]
        md = (f"# Dashboard queries ({tag or 'current'})\n\n{runs} runs per chart, marts: "
              f"{json.dumps(counts, ensure_ascii=False)}; load average {load_average()}.\n\n"
              + md_table(("chart", "dataset", "rows", "p50 ms", "p95 ms", "p95 < 1 s"), rows))
        for chart, plan in plans.items():
            md += f"\n## EXPLAIN ANALYZE {chart}\n\n```\n{plan}\n```\n"
        name = "dashboards" + (f"_{tag}" if tag else "")
        write_result(name, data, md)
        return data
    finally:
        if not keep:
            drop_database("dash")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--violations-per-month", type=int, default=100_000)
    ap.add_argument("--persons-per-month", type=int, default=1_000,
                    help="persons ranked per metric and month (mart_rankings keeps the top 1,000)")
    ap.add_argument("--keep", action="store_true", help="keep mfm_bench_dash")
    ap.add_argument("--reuse", action="store_true", help="measure an existing mfm_bench_dash again (with --keep)")
    ap.add_argument("--tag", default="", help="result file suffix (e.g. before / after)")
    ap.add_argument("--charts", default="", help="comma-separated chart keys (default: every chart)")
    args = ap.parse_args(argv)
    only = {c.strip() for c in args.charts.split(",") if c.strip()} or None
    data = run(args.runs, args.violations_per_month, args.persons_per_month, args.keep, args.reuse, args.tag, only)
    return 0 if data["all_meet_target"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
