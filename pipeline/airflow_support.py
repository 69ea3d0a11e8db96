"""What the thin DAG files share: default task arguments, Assets, pools, the business date of a run.

Imported only by dags/ (and their tests); the task functions themselves live in
pipeline/ modules that need no Airflow.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from airflow.sdk import Asset

from pipeline.alerts import on_failure
from warehouse.config import settings

# Pools (created by pipeline.run_local / `airflow pools set`, docs/airflow.md):
LOAD_POOL = "warehouse_loads"  # bounds concurrent COPY loads (LOAD_POOL_SLOTS)
DBT_POOL = "warehouse_dbt"  # one dbt at a time: both DAGs rebuild the same relations

# Data-aware scheduling (Airflow 3 Assets). URIs name warehouse relations.
REFERENCE_SNAPSHOTS = Asset(name="staging.reference_snapshots", uri="medwatch://warehouse/staging/reference")
CATALOGUE = Asset(name="catalogue", uri="medwatch://warehouse/catalogue")
VIOLATIONS = Asset(name="marts.fct_violations", uri="medwatch://warehouse/marts/fct_violations")
HOSPITAL_EXPORTS = Asset(name="hospital_exports", uri="file://medwatch/exports")

TIMEOUTS = {
    "discover": timedelta(minutes=10),
    "load": timedelta(hours=1),
    "dbt": timedelta(hours=2),
    "export": timedelta(minutes=30),
    "dashboards": timedelta(minutes=15),
    "summary": timedelta(minutes=10),
}


def default_args() -> dict[str, Any]:
    """Every task: retries with exponential backoff (1, 2, 4... minutes, at most 30), a timeout, the alert."""
    return {
        "owner": "medwatch",
        "retries": settings().task_retries,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=30),
        "execution_timeout": timedelta(minutes=30),
        "on_failure_callback": on_failure,
    }


def start_date() -> datetime:
    s = settings()
    return datetime.fromisoformat(s.pipeline_start_date).replace(tzinfo=ZoneInfo(s.business_tz))


def business_date(context: dict[str, Any]) -> date:
    """The run's business date: its logical date in BUSINESS_TZ (run_after for runs without one)."""
    ts = context.get("logical_date") or context["dag_run"].run_after
    return ts.astimezone(ZoneInfo(settings().business_tz)).date()
