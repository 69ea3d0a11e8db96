"""Environment of a local Airflow (run_local, tests): home, SQLite metadata, DAG folder, low parallelism.

Airflow reads its own AIRFLOW__* variables; values already set in the caller's
environment win, so an operator can point the metadata at PostgreSQL
(AIRFLOW__DATABASE__SQL_ALCHEMY_CONN; a database of its own, never the warehouse).
"""

from __future__ import annotations

import os
from pathlib import Path

from warehouse.config import REPO_ROOT, settings


def airflow_env(warehouse_url: str, airflow_home: Path | None = None,
                base: dict[str, str] | None = None) -> dict[str, str]:
    home = Path(airflow_home or settings().airflow_home)
    env = dict(os.environ if base is None else base)
    defaults = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        # 2 cores shared with PostgreSQL and dbt
        "AIRFLOW__CORE__PARALLELISM": "4",
        # one run may load months of pending deliveries: 5 kinds x 365 days
        "AIRFLOW__CORE__MAX_MAP_LENGTH": "4096",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "GX_ANALYTICS_ENABLED": "false",
        "XDG_RUNTIME_DIR": env.get("XDG_RUNTIME_DIR", "/tmp"),
    }
    if airflow_home is not None:  # an explicit home (tests) brings its own metadata DB
        env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
        env["AIRFLOW_HOME"] = str(home)
    for k, v in defaults.items():
        env.setdefault(k, v)
    env["WAREHOUSE_URL"] = warehouse_url
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    return env
