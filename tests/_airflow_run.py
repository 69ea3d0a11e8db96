"""A real `airflow dags test` (pipeline.run_local) in a private Airflow home, for the slow DAG tests."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

from warehouse.config import REPO_ROOT


def run_dag(tmp: Path, landing: Path, url: str, dag: str, run_date: date, home: Path,
            extra_env: dict[str, str] | None = None, suffix: str = "", timeout: int = 1500) -> tuple[int, str]:
    """Run one DAG for one business date; returns (exit status, output). Superset and SMTP stay off.
    Exports and dbt's target go to tmp/exports<suffix> and tmp/dbt_target<suffix>."""
    from pipeline.airflow_env import airflow_env

    env = airflow_env(url, airflow_home=home)
    target = tmp / f"dbt_target{suffix}"
    env.update({
        "LANDING_DIR": str(landing), "EXPORTS_DIR": str(tmp / f"exports{suffix}"), "VAR_DIR": str(tmp / "var"),
        "DBT_TARGET_PATH": str(target), "DBT_LOG_PATH": str(target / "logs"),
        "TASK_RETRIES": "1", "DATA_DOCS_DIR": str(tmp / "data_docs"), **(extra_env or {}),
    })
    env.pop("SUPERSET_URL", None)
    env.pop("SMTP_HOST", None)
    res = subprocess.run([sys.executable, "-m", "pipeline.run_local", "--dag", dag, "--date", run_date.isoformat()],
                         cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    return res.returncode, res.stdout + res.stderr


def task_states(home: Path, dag_id: str) -> dict[str, str | None]:
    """Final state of each task of the DAG's latest run, from the run's SQLite metadata
    (a mapped task over an empty list has one instance, map_index -1)."""
    with sqlite3.connect(home / "airflow.db") as db:
        run_id = db.execute("SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1",
                            (dag_id,)).fetchone()[0]
        rows = db.execute("SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ?",
                          (dag_id, run_id)).fetchall()
    states: dict[str, set[str | None]] = {}
    for task_id, state in rows:
        states.setdefault(task_id, set()).add(state)
    return {t: s.pop() if len(s) == 1 else ",".join(sorted(map(str, s))) for t, s in states.items()}
