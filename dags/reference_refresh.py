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

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag, task
from airflow.sdk.exceptions import AirflowSkipException

from pipeline import steps
from pipeline.airflow_support import (
    CATALOGUE,
    DBT_POOL,
    LOAD_TASK,
    REFERENCE_SNAPSHOTS,
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
from pipeline.dbt_build import REFERENCE_SELECTOR
from warehouse.config import settings


@dag(
    dag_id="reference_refresh",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 5 * * *", timezone=settings().business_tz),
        assets=REFERENCE_SNAPSHOTS,
    ),
    catchup=False,  # a snapshot is a full catalogue: only the newest state matters
    doc_md=__doc__,
    **dag_defaults("reference"),
)
def reference_refresh():
    @task(
        multiple_outputs=False,
        doc_md="Reference snapshot kinds up to the run's date never loaded or changed since.",
        execution_timeout=TIMEOUTS["discover"])
    def discover() -> list[dict[str, str]]:
        return pending("reference")

    @task(multiple_outputs=False, **LOAD_TASK, doc_md="Load one reference snapshot kind into its staging history table.")
    def load_reference(item: dict) -> dict:
        return load_delivery(item, f"{item['date']}/{item['kind']}")

    @task(
        multiple_outputs=False,
        doc_md="Rebuild the catalogue models and every rule and mart downstream of them, tests included.",
        pool=DBT_POOL, execution_timeout=TIMEOUTS["dbt"], outlets=[CATALOGUE, VIOLATIONS])
    def rebuild_catalogue_and_rules(found: list[dict]) -> dict:
        if not found:
            raise AirflowSkipException("no new reference snapshot: nothing to rebuild")
        return permanent(steps.build, [REFERENCE_SELECTOR])

    @task(multiple_outputs=False, **SUMMARY_TASK)
    def run_summary(found: list[dict] | None, built: dict | None, written: list[dict] | None,
                    dashboards: dict | None) -> dict:
        if found == []:  # nothing new: nothing was meant to run
            return {"status": "success", "deliveries_loaded": 0}
        return finish_run("reference_refresh", found or [], built, written, dashboards,
                          discovered=found is not None)

    found = discover()
    loaded = load_reference.expand(item=found)
    built = rebuild_catalogue_and_rules(found)
    loaded >> built
    export = export_hospital_files.override(
        doc_md="Re-export every month from the earliest new snapshot's to the run's month.")
    written = export(found, built)
    dashboards = refresh_dashboards(written)
    run_summary(found, built, written, dashboards)


reference_refresh()
