"""
### daily_monitoring 医保基金每日智能监控 (Airflow DAG)

Runs once per **business date** (its logical date in `BUSINESS_TZ`, at 06:00
the next morning), catching up from `PIPELINE_START_DATE`:

1. **discover_reference**, **discover_daily**: complete deliveries (manifest.json present) dated up to the
   business date that were never loaded or changed since (late and corrected
   deliveries are picked up by the next run);
2. **load_reference** then **load_daily**: one mapped task per delivery kind
   and date (pool `warehouse_loads`), each atomic; a rejected delivery fails
   its task with the loader's message and loads nothing of that kind and date;
3. **dbt_build**: `dbt build` of every model with its tests; a failing
   error-severity test fails it and stops what follows (pool `warehouse_dbt`);
4. **export_hospital_files**: every institution's suspects of the affected
   months as CSV + XLSX under `EXPORTS_DIR/<YYYY-MM>/<fixmedins_code>/`;
5. **refresh_dashboards**: warms Superset's caches when `SUPERSET_URL` is set;
6. **run_summary**: rows loaded, quarantined, suspects by rule, in the log and
   in `meta.run_summary`; it runs even when something failed, then fails the
   run if anything did.

Operations (rerun a day, backfill, pools): docs/airflow.md.
"""

from __future__ import annotations

from datetime import date

from airflow.sdk import CronDataIntervalTimetable, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from pipeline import steps
from pipeline.airflow_support import (
    DBT_POOL,
    HOSPITAL_EXPORTS,
    LOAD_POOL,
    TIMEOUTS,
    VIOLATIONS,
    business_date,
    default_args,
    start_date,
)
from warehouse.config import settings


def _load(item: dict) -> dict:
    get_current_context()["delivery"] = f"{item['section']}/{item['date']}/{item['kind']}"
    try:
        return steps.load(item)
    except steps.PermanentFailure as exc:
        raise AirflowFailException(str(exc)) from exc


@dag(
    dag_id="daily_monitoring",
    schedule=CronDataIntervalTimetable("0 6 * * *", timezone=settings().business_tz),
    start_date=start_date(),
    catchup=True,
    max_active_runs=1,  # runs share the ledger: load in date order, one at a time
    default_args=default_args(),
    doc_md=__doc__,
    tags=["medwatch", "daily"],
)
def daily_monitoring():
    @task(
        multiple_outputs=False,
        doc_md="Reference snapshot kinds dated up to the business date, never loaded or changed since.",
        execution_timeout=TIMEOUTS["discover"])
    def discover_reference() -> list[dict[str, str]]:
        return steps.discover(business_date(get_current_context()))["reference"]

    @task(
        doc_md="Daily extract kinds dated up to the business date, never loaded or changed since.",
        execution_timeout=TIMEOUTS["discover"])
    def discover_daily() -> list[dict[str, str]]:
        return steps.discover(business_date(get_current_context()))["daily"]

    @task(
        multiple_outputs=False,
        doc_md="Load one reference snapshot kind (e.g. ref_med_list of 2024-01-01) into staging history.",
        pool=LOAD_POOL, execution_timeout=TIMEOUTS["load"], map_index_template="{{ delivery }}")
    def load_reference(item: dict) -> dict:
        return _load(item)

    @task(
        multiple_outputs=False,
        doc_md="Load and validate one daily extract kind of one date (after every reference snapshot).",
        pool=LOAD_POOL, execution_timeout=TIMEOUTS["load"], map_index_template="{{ delivery }}",
        trigger_rule="none_failed")
    def load_daily(item: dict) -> dict:
        return _load(item)

    @task(
        multiple_outputs=False,
        doc_md="`dbt build` of staging, catalogue, intermediate, rules and marts with their tests.",
        pool=DBT_POOL, execution_timeout=TIMEOUTS["dbt"], trigger_rule="none_failed", outlets=[VIOLATIONS])
    def dbt_build() -> dict:
        try:
            return steps.build()
        except steps.PermanentFailure as exc:
            raise AirflowFailException(str(exc)) from exc

    @task(
        multiple_outputs=False,
        doc_md="Each institution's suspects of the months this run can have changed, as CSV + XLSX (masked).",
        execution_timeout=TIMEOUTS["export"], outlets=[HOSPITAL_EXPORTS])
    def export_hospital_files(found_daily: list[dict], built: dict) -> list[dict]:
        dates = [date.fromisoformat(i["date"]) for i in found_daily]
        return steps.export(dates, business_date(get_current_context()))

    @task(
        doc_md="Warm Superset's dataset caches (skipped with a log line when SUPERSET_URL is unset).",
        execution_timeout=TIMEOUTS["dashboards"])
    def refresh_dashboards(written: list[dict]) -> dict | None:
        return steps.refresh_dashboards()

    @task(
        multiple_outputs=False,
        doc_md="Log and store the run summary (meta.run_summary); fail the run if any step did not succeed.",
        execution_timeout=TIMEOUTS["summary"], trigger_rule="all_done")
    def run_summary(found_ref: list[dict] | None, found_daily: list[dict] | None, built: dict | None,
                    written: list[dict] | None, dashboards: dict | None) -> dict:
        ctx = get_current_context()
        items = [*(found_ref or []), *(found_daily or [])]
        try:
            return steps.finish("daily_monitoring", ctx["run_id"], business_date(ctx), items, built, written,
                                dashboards, discovered=found_ref is not None and found_daily is not None)
        except steps.PermanentFailure as exc:
            raise AirflowFailException(str(exc)) from exc

    found_ref, found_daily = discover_reference(), discover_daily()
    refs = load_reference.expand(item=found_ref)
    days = load_daily.expand(item=found_daily)
    refs >> days
    built = dbt_build()
    days >> built
    written = export_hospital_files(found_daily, built)
    dashboards = refresh_dashboards(written)
    run_summary(found_ref, found_daily, built, written, dashboards)


daily_monitoring()
