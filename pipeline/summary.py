"""Run summary (运行摘要): rows loaded, quarantined, suspects by rule; logged and kept in meta.run_summary."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg

from pipeline.db import relation_exists

log = logging.getLogger(__name__)

RUN_SUMMARY_DDL = """
CREATE TABLE IF NOT EXISTS meta.run_summary (
  dag_id text NOT NULL,
  run_id text NOT NULL,
  business_date date NOT NULL,
  status text NOT NULL,                 -- success / failed
  deliveries_loaded integer NOT NULL,   -- kind-date loads that succeeded (unchanged ones excluded)
  deliveries_failed integer NOT NULL,
  rows_loaded bigint NOT NULL,
  rows_quarantined bigint NOT NULL,
  suspects_total bigint,
  suspects_by_rule jsonb,               -- {"R04": {"count": n, "amount": "x.xx"}, ...} over the whole mart
  export_files integer,
  details jsonb,                        -- per-delivery results, export list, task states
  finished_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (dag_id, run_id)
)"""


def ensure_run_summary(conn: psycopg.Connection) -> None:
    with conn.transaction():
        conn.execute("CREATE SCHEMA IF NOT EXISTS meta")
        conn.execute(RUN_SUMMARY_DDL)


def suspects_by_rule(conn: psycopg.Connection) -> dict[str, dict[str, Any]]:
    if not relation_exists(conn, "marts.fct_violations"):
        return {}
    rows = conn.execute(
        "SELECT rule_code, count(*), coalesce(sum(amount), 0) FROM marts.fct_violations "
        "GROUP BY rule_code ORDER BY rule_code").fetchall()
    return {code: {"count": n, "amount": str(Decimal(amt).quantize(Decimal("0.01")))} for code, n, amt in rows}


def build_summary(loads: Sequence[dict[str, Any]], exports: Sequence[dict[str, Any]],
                  by_rule: dict[str, dict[str, Any]], failed_tasks: Sequence[str]) -> dict[str, Any]:
    done = [x for x in loads if x.get("status") == "loaded"]
    failed = [x for x in loads if x.get("status") not in ("loaded", "unchanged")]
    return {
        "status": "failed" if failed or failed_tasks else "success",
        "deliveries_loaded": len(done),
        "deliveries_failed": len(failed),
        "rows_loaded": sum(int(x.get("rows_loaded") or 0) for x in loads),
        "rows_quarantined": sum(int(x.get("rows_quarantined") or 0) for x in loads),
        "suspects_total": sum(v["count"] for v in by_rule.values()) if by_rule else None,
        "suspects_by_rule": by_rule,
        "export_files": 2 * len(exports),
        "details": {"loads": list(loads), "exports": list(exports), "failed_tasks": list(failed_tasks)},
    }


def format_summary(dag_id: str, business_date: date, s: dict[str, Any]) -> str:
    lines = [f"{dag_id} {business_date}: {s['status']}",
             f"  deliveries loaded {s['deliveries_loaded']}, failed {s['deliveries_failed']}",
             f"  rows loaded {s['rows_loaded']}, quarantined {s['rows_quarantined']}",
             f"  suspects {s['suspects_total']}; export files {s['export_files']}"]
    for code, v in (s["suspects_by_rule"] or {}).items():
        lines.append(f"    {code}: {v['count']} suspects, {v['amount']} yuan")
    for x in s["details"]["loads"]:
        if x.get("status") not in ("loaded", "unchanged"):
            lines.append(f"  FAILED {x.get('section')}/{x.get('date')}/{x.get('kind')}: {x.get('error')}")
    for t in s["details"]["failed_tasks"]:
        lines.append(f"  task not successful: {t}")
    return "\n".join(lines)


def write_summary(conn: psycopg.Connection, dag_id: str, run_id: str, business_date: date,
                  s: dict[str, Any]) -> None:
    ensure_run_summary(conn)
    with conn.transaction():
        conn.execute(
            """INSERT INTO meta.run_summary (dag_id, run_id, business_date, status, deliveries_loaded,
                   deliveries_failed, rows_loaded, rows_quarantined, suspects_total, suspects_by_rule,
                   export_files, details)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (dag_id, run_id) DO UPDATE SET
                 business_date = excluded.business_date, status = excluded.status,
                 deliveries_loaded = excluded.deliveries_loaded, deliveries_failed = excluded.deliveries_failed,
                 rows_loaded = excluded.rows_loaded, rows_quarantined = excluded.rows_quarantined,
                 suspects_total = excluded.suspects_total, suspects_by_rule = excluded.suspects_by_rule,
                 export_files = excluded.export_files, details = excluded.details, finished_at = now()""",
            (dag_id, run_id, business_date, s["status"], s["deliveries_loaded"], s["deliveries_failed"],
             s["rows_loaded"], s["rows_quarantined"], s["suspects_total"],
             json.dumps(s["suspects_by_rule"], ensure_ascii=False), s["export_files"],
             json.dumps(s["details"], ensure_ascii=False, default=str)))
