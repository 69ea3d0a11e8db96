"""
### reference_refresh 目录快照刷新 (Airflow DAG)

Loads new reference snapshots (`<landing>/reference/<date>/`: persons,
special-disease registrations, institutions, practitioners, the medical
catalogue, diseases) as soon as they are announced, without waiting for the
next daily run, then rebuilds the catalogue models and re-evaluates every
rule that reads them (`dbt build --select @path:models/catalogue`: the
catalogue, everything downstream of it and the parents those need) and
re-exports the months the snapshots can affect.

Scheduling is data-aware: it runs when the Asset `staging.reference_snapshots`
gets an event (the transfer job posts it with
`POST /api/v2/assets/events` when a reference folder lands, or an operator
does from the UI), and in any case every morning at 05:00, before
daily_monitoring. Its dbt step produces the Assets `catalogue` and
`marts.fct_violations` that downstream consumers can schedule on.
"""

from __future__ import annotations

from datetime import date

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from pipeline import steps
from pipeline.airflow_support import (
    CATALOGUE,
    DBT_POOL,
    HOSPITAL_EXPORTS,
    LOAD_POOL,
    REFERENCE_SNAPSHOTS,
    TIMEOUTS,
    VIOLATIONS,
    business_date,
    default_args,
    start_date,
)
from pipeline.dbt_build import REFERENCE_SELECTOR
from warehouse.config import settings


@dag(
    dag_id="reference_refresh",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 5 * * *", timezone=settings().business_tz),
        assets=REFERENCE_SNAPSHOTS,
    ),
    start_date=start_date(),
    catchup=False,  # a snapshot is a full catalogue: only the newest state matters
    max_active_runs=1,
    default_args=default_args(),
    doc_md=__doc__,
    tags=["medwatch", "reference"],
)
def reference_refresh():
    @task(
        multiple_outputs=False,
        doc_md="Reference snapshot kinds up to the run's date never loaded or changed since.",
        execution_timeout=TIMEOUTS["discover"])
    def discover() -> list[dict[str, str]]:
        return steps.discover(business_date(get_current_context()))["reference"]

    @task(
        multiple_outputs=False,
        doc_md="Load one reference snapshot kind into its staging history table.",
        pool=LOAD_POOL, execution_timeout=TIMEOUTS["load"], map_index_template="{{ delivery }}")
    def load_reference(item: dict) -> dict:
        get_current_context()["delivery"] = f"{item['date']}/{item['kind']}"
        try:
            return steps.load(item)
        except steps.PermanentFailure as exc:
            raise AirflowFailException(str(exc)) from exc

    @task(
        multiple_outputs=False,
        doc_md="Rebuild the catalogue models and every rule and mart downstream of them, tests included.",
        pool=DBT_POOL, execution_timeout=TIMEOUTS["dbt"], outlets=[CATALOGUE, VIOLATIONS])
    def rebuild_catalogue_and_rules(found: list[dict]) -> dict:
        if not found:
            raise AirflowSkipException("no new reference snapshot: nothing to rebuild")
        try:
            return steps.build([REFERENCE_SELECTOR])
        except steps.PermanentFailure as exc:
            raise AirflowFailException(str(exc)) from exc

    @task(
        multiple_outputs=False,
        doc_md="Re-export every month from the earliest new snapshot's to the run's month.",
        execution_timeout=TIMEOUTS["export"], outlets=[HOSPITAL_EXPORTS])
    def export_hospital_files(found: list[dict], built: dict) -> list[dict]:
        dates = [date.fromisoformat(i["date"]) for i in found]
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
    def run_summary(found: list[dict] | None, built: dict | None, written: list[dict] | None,
                    dashboards: dict | None) -> dict:
        ctx = get_current_context()
        if found == []:  # nothing new: nothing was meant to run
            return {"status": "success", "deliveries_loaded": 0}
        try:
            return steps.finish("reference_refresh", ctx["run_id"], business_date(ctx), found or [], built,
                                written, dashboards, discovered=found is not None)
        except steps.PermanentFailure as exc:
            raise AirflowFailException(str(exc)) from exc

    found = discover()
    loaded = load_reference.expand(item=found)
    built = rebuild_catalogue_and_rules(found)
    loaded >> built
    written = export_hospital_files(found, built)
    dashboards = refresh_dashboards(written)
    run_summary(found, built, written, dashboards)


reference_refresh()
