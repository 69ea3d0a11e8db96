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
3. **dbt_build**: `dbt source freshness` on the load ledger (past
   `error_after` is logged, or stops here with FRESHNESS_STOPS_BUILD), then `dbt build` of every model with its tests;
   a failing error-severity test fails it and stops what follows (pool `warehouse_dbt`);
4. **export_hospital_files**: every institution's suspects of the affected
   months as CSV + XLSX under `EXPORTS_DIR/<YYYY-MM>/<fixmedins_code>/`;
5. **refresh_dashboards**: warms Superset's caches when `SUPERSET_URL` is set;
6. **run_summary**: rows loaded, quarantined, suspects by rule, in the log and
   in `meta.run_summary`; it runs even when something failed, then fails the
   run if anything did.

Operations (rerun a day, backfill, pools): docs/airflow.md.
"""

from __future__ import annotations

from airflow.sdk import CronDataIntervalTimetable, dag, task

from pipeline import steps
from pipeline.airflow_support import (
    DBT_POOL,
    LOAD_TASK,
    SUMMARY_TASK,
    TIMEOUTS,
    VIOLATIONS,
    dag_defaults,
    export_hospital_files,
    finish_run,
    load_delivery,
    pending,
    permanent,
    refresh_dashboards,
)
from warehouse.config import settings


@dag(
    dag_id="daily_monitoring",
    schedule=CronDataIntervalTimetable("0 6 * * *", timezone=settings().business_tz),
    catchup=True,
    doc_md=__doc__,
    **dag_defaults("daily"),
)
def daily_monitoring():
    @task(
        multiple_outputs=False,
        doc_md="Reference snapshot kinds dated up to the business date, never loaded or changed since.",
        execution_timeout=TIMEOUTS["discover"])
    def discover_reference() -> list[dict[str, str]]:
        return pending("reference")

    @task(
        doc_md="Daily extract kinds dated up to the business date, never loaded or changed since.",
        execution_timeout=TIMEOUTS["discover"])
    def discover_daily() -> list[dict[str, str]]:
        return pending("daily")

    @task(multiple_outputs=False, **LOAD_TASK,
          doc_md="Load one reference snapshot kind (e.g. ref_med_list of 2024-01-01) into staging history.")
    def load_reference(item: dict) -> dict:
        return load_delivery(item, f"{item['section']}/{item['date']}/{item['kind']}")

    @task(multiple_outputs=False, **LOAD_TASK, trigger_rule="none_failed",
          doc_md="Load and validate one daily extract kind of one date (after every reference snapshot).")
    def load_daily(item: dict) -> dict:
        return load_delivery(item, f"{item['section']}/{item['date']}/{item['kind']}")

    @task(
        multiple_outputs=False,
        doc_md="`dbt source freshness` (load ledger), then `dbt build` of every layer with its tests.",
        pool=DBT_POOL, execution_timeout=TIMEOUTS["dbt"], trigger_rule="none_failed", outlets=[VIOLATIONS])
    def dbt_build() -> dict:
        return permanent(steps.check_freshness_and_build)

    @task(multiple_outputs=False, **SUMMARY_TASK)
    def run_summary(found_ref: list[dict] | None, found_daily: list[dict] | None, built: dict | None,
                    written: list[dict] | None, dashboards: dict | None) -> dict:
        return finish_run("daily_monitoring", [*(found_ref or []), *(found_daily or [])], built, written,
                          dashboards, discovered=found_ref is not None and found_daily is not None)

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
