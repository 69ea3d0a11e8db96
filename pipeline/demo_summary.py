"""What `make demo` prints at the end: what ran, what it produced, and where to look.

    python -m pipeline.demo_summary
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg

from ingestion.contract import KINDS
from pipeline.db import relation_exists, warehouse_url
from pipeline.summary import suspects_by_rule
from superset_assets.settings import settings as superset_settings
from warehouse.config import REPO_ROOT, settings

LAYERS = ("stg", "catalogue", "intermediate", "rules", "marts")


def _count(conn: psycopg.Connection, rel: str) -> int | None:
    if not relation_exists(conn, rel):
        return None
    return conn.execute(f"SELECT count(*) FROM {rel}").fetchone()[0]


def _layer_counts(conn: psycopg.Connection) -> dict[str, tuple[int, int]]:
    """schema -> (relations, rows) for the dbt layers (row estimates would mislead on views)."""
    out: dict[str, tuple[int, int]] = {}
    for schema in LAYERS:
        rels = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY 1",
            (schema,)).fetchall()]
        out[schema] = (len(rels), sum(_count(conn, f'{schema}."{r}"') or 0 for r in rels))
    return out


def _rel(p: Path) -> str:
    try:
        return str(p.relative_to(REPO_ROOT))
    except ValueError:
        return str(p)


def _without_password(url: str) -> str:
    u = urlparse(url)
    if u.password:
        u = u._replace(netloc=u.netloc.replace(f":{u.password}@", ":***@"))
    return urlunparse(u)


def render(url: str) -> str:
    s = settings()
    lines = ["", "=" * 72, "医保基金智能监控 demo — what ran and where to look", "=" * 72]
    with psycopg.connect(url, autocommit=True) as conn:
        if relation_exists(conn, "meta.run_summary"):
            row = conn.execute(
                "SELECT dag_id, business_date, status, deliveries_loaded, rows_loaded, rows_quarantined,"
                " export_files, finished_at FROM meta.run_summary ORDER BY finished_at DESC LIMIT 1").fetchone()
            if row:
                lines.append(f"Last run: {row[0]} for business date {row[1]}: {row[2]} "
                             f"({row[3]} deliveries, {row[4]:,} rows loaded, {row[5]:,} quarantined, "
                             f"{row[6]} export files) at {row[7]:%Y-%m-%d %H:%M:%S %Z}")
        lines.append("")
        lines.append("Staging (rows loaded per extract kind):")
        for k in KINDS.values():
            n = _count(conn, k.table)
            lines.append(f"  {k.table:<32} {k.label_zh:<8} {f'{n:,}' if n is not None else '-':>12}")
        lines.append("dbt layers (relations / rows):")
        for schema, (n_rel, n_rows) in _layer_counts(conn).items():
            lines.append(f"  {schema:<14} {n_rel:>4} relations {n_rows:>14,} rows")
        by_rule = suspects_by_rule(conn)
        names = {}
        if relation_exists(conn, "ref.audit_rules"):
            names = dict(conn.execute("SELECT code, name_zh || ' ' || name_en FROM ref.audit_rules").fetchall())
        lines.append(f"Suspects (marts.fct_violations): {sum(v['count'] for v in by_rule.values()):,}")
        for code, v in by_rule.items():
            lines.append(f"  {code} {names.get(code, ''):<48} {v['count']:>7,}  {v['amount']:>14} 元")
        q = _count(conn, "meta.quarantine")
        lines.append(f"Quarantined rows (meta.quarantine): {q if q is not None else 0:,}")

    exports = sorted(s.exports_dir.glob("*/*/*.xlsx"))
    lines.append("")
    lines.append(f"Hospital exports: {len(exports)} XLSX (+ CSV beside each) under {_rel(s.exports_dir)}/")
    for p in exports[:5]:
        lines.append(f"  {_rel(p)}")
    if len(exports) > 5:
        lines.append(f"  ... {len(exports) - 5} more")
    docs = s.data_docs_dir / "index.html"
    lines.append(f"Data Docs (Great Expectations): {_rel(docs)}" + ("" if docs.exists() else " (not built)"))
    lines += [
        "",
        "How to browse:",
        f"  SQL:       psql '{_without_password(url)}'  (schemas staging, stg, catalogue, intermediate, rules, marts, meta)",
        "  Run log:   SELECT * FROM meta.run_summary ORDER BY finished_at DESC;",
        f"  Data Docs: python -m http.server -d {_rel(s.data_docs_dir)} 8001  -> http://localhost:8001",
        "  dbt docs:  make dbt-docs, then python -m http.server -d dbt_project/target 8002",
        f"  Airflow:   AIRFLOW_HOME={_rel(s.airflow_home)} airflow standalone  -> http://localhost:8080"
        " (docs/airflow.md)",
        *_superset_lines(),
        "=" * 72,
    ]
    return "\n".join(lines)


def _superset_lines() -> list[str]:
    """Superset's URL and demo logins, from what `make superset-deploy` recorded (no passwords in it)."""
    ss = superset_settings()
    if not ss.deploy_result.exists():
        return ["  Superset:  not deployed (make superset-up; docs/superset.md)"]
    info = json.loads(ss.deploy_result.read_text("utf-8"))
    # Print the password only while it is the demo default; a chosen one stays in the environment.
    password = "demo" if ss.demo_password == "demo" else "$SUPERSET_DEMO_PASSWORD"
    lines = ["", f"Superset dashboards: {info['url']}  (stop: make superset-down)",
             *(f"  {url}" for url in info["dashboards"]),
             f"  Logins (password {password}):"]
    lines += [f"    {user:<20} {what}" for user, what in info["logins"].items()]
    lines.append(f"  Weekly snapshot mails (SMTP sink): {_rel(Path(info['mail_dir']))}/  "
                 "(send one now: make superset-report)")
    return lines


def main() -> int:
    print(render(warehouse_url()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
