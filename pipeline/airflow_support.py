"""What the thin DAG files share: DAG and task defaults, Assets, pools, the business date of a run,
and the tasks both DAGs run (load a delivery, export, warm the dashboards, summarise).

Imported only by dags/ (and their tests); the work itself lives in pipeline/
modules that need no Airflow (pipeline/steps.py): what is here only adapts it
to a task (run context, Airflow exceptions).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from airflow.sdk import Asset, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from pipeline import steps
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


def dag_defaults(*tags: str) -> dict[str, Any]:
    """The @dag arguments every DAG shares; each DAG adds its id, schedule, catchup and doc_md."""
    return {
        "start_date": start_date(),
        # runs share the load ledger and the dbt relations: one at a time, in date order
        "max_active_runs": 1,
        "default_args": default_args(),
        "tags": ["medwatch", *tags],
    }


def start_date() -> datetime:
    s = settings()
    return datetime.fromisoformat(s.pipeline_start_date).replace(tzinfo=ZoneInfo(s.business_tz))


def business_date(context: dict[str, Any]) -> date:
    """The run's business date: its logical date in BUSINESS_TZ (run_after for runs without one)."""
    ts = context.get("logical_date") or context["dag_run"].run_after
    return ts.astimezone(ZoneInfo(settings().business_tz)).date()


R = TypeVar("R")


def permanent(step: Callable[..., R], *args: Any) -> R:
    """Run a pipeline step; its PermanentFailure fails the task at once (retrying cannot help)."""
    try:
        return step(*args)
    except steps.PermanentFailure as exc:
        raise AirflowFailException(str(exc)) from exc


def pending(section: str) -> list[dict[str, str]]:
    """Deliveries of a section ('reference' | 'daily') dated up to the run's business date, never loaded
    or changed since."""
    return steps.discover(business_date(get_current_context()))[section]


def load_delivery(item: dict[str, Any], label: str) -> dict[str, Any]:
    """Load one delivery kind of one date; `label` names the mapped task instance (map_index_template)."""
    get_current_context()["delivery"] = label
    return permanent(steps.load, item)


def finish_run(dag_id: str, items: Sequence[dict[str, Any]], built: dict | None, written: list[dict] | None,
               dashboards: dict | None, discovered: bool) -> dict[str, Any]:
    """Log and store the run summary; fail the run when a step did not succeed."""
    ctx = get_current_context()
    return permanent(steps.finish, dag_id, ctx["run_id"], business_date(ctx), items, built, written,
                     dashboards, discovered)


# @task arguments of both DAGs' loads and summaries (multiple_outputs stays at each task: ruff AIR
# checks it there).
LOAD_TASK: dict[str, Any] = {
    "pool": LOAD_POOL, "execution_timeout": TIMEOUTS["load"], "map_index_template": "{{ delivery }}",
}
SUMMARY_TASK: dict[str, Any] = {
    "execution_timeout": TIMEOUTS["summary"], "trigger_rule": "all_done",
    "doc_md": "Log and store the run summary (meta.run_summary); fail the run if any step did not succeed.",
}


@task(
    multiple_outputs=False,
    doc_md="Each institution's suspects of the months this run can have changed, as CSV + XLSX (masked).",
    execution_timeout=TIMEOUTS["export"], outlets=[HOSPITAL_EXPORTS])
def export_hospital_files(found: list[dict], built: dict) -> list[dict]:
    dates = [date.fromisoformat(i["date"]) for i in found]
    return steps.export(dates, business_date(get_current_context()))


@task(
    doc_md="Warm Superset's dataset caches (skipped with a log line when SUPERSET_URL is unset).",
    execution_timeout=TIMEOUTS["dashboards"])
def refresh_dashboards(written: list[dict]) -> dict | None:
    return steps.refresh_dashboards()
