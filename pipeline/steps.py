"""The DAG steps as plain functions (tested without a scheduler); the DAG files only wire them.

Deterministic refusals (a rejected delivery, a failing dbt test) raise
PermanentFailure so that Airflow fails the task at once instead of retrying;
anything else (a dropped connection, a full disk) is left to the retries.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline import dbt_build, exports, loads, summary, superset_refresh
from pipeline.db import connect
from warehouse.config import settings

log = logging.getLogger("medwatch.pipeline")


class PermanentFailure(RuntimeError):
    """Retrying cannot help: the data or a test says no. The DAG maps it to AirflowFailException."""


def discover(up_to: date) -> dict[str, list[dict[str, str]]]:
    return loads.discover_pending(settings().landing_dir, up_to)


def load(item: dict[str, Any]) -> dict[str, Any]:
    try:
        return loads.load_item(settings().landing_dir, item)
    except loads.DeliveryRejected as exc:
        raise PermanentFailure(str(exc)) from exc


def build(select: Sequence[str] | None = None) -> dict[str, Any]:
    try:
        return dbt_build.build(select)
    except dbt_build.DbtBuildFailed as exc:
        raise PermanentFailure(str(exc)) from exc


def check_freshness_and_build() -> dict[str, Any]:
    """The daily dbt step: source freshness on the load ledger (past error_after: logged, or a stop with
    FRESHNESS_STOPS_BUILD), then the full build.

    Only the daily run checks freshness: the daily kinds are what it loads, and
    reference_refresh must rebuild the catalogue even when a daily feed is late.
    A source past error_after is a PermanentFailure too: retrying minutes later
    will not make a delivery arrive.
    """
    try:
        fresh = dbt_build.check_freshness(dbt_build.source_freshness())
        return {**dbt_build.build(), "freshness": fresh}
    except dbt_build.DbtBuildFailed as exc:
        raise PermanentFailure(str(exc)) from exc


def export_months(dates: Sequence[date], business_date: date) -> list[str]:
    """Months whose suspects a load of `dates` can change, through the run's month.

    A delivery can move suspects back in time (a stay's fee lines date back to
    admission, refunds reach earlier lines), so the month before the earliest
    delivered date is re-exported too.
    """
    first = (min(dates) if dates else business_date).replace(day=1) - timedelta(days=1)
    return exports.months_between(first, max([business_date, *dates]))


def export(dates: Sequence[date], business_date: date) -> list[dict[str, Any]]:
    with connect(autocommit=True) as conn:
        written = exports.export_periods(conn, export_months(dates, business_date), settings().exports_dir)
    return [w.as_dict() for w in written]


def refresh_dashboards() -> dict[str, Any] | None:
    return superset_refresh.refresh()


def finish(dag_id: str, run_id: str, business_date: date, items: Sequence[dict[str, Any]],
           built: dict[str, Any] | None, written: Sequence[dict[str, Any]] | None,
           dashboards: dict[str, Any] | None = None, discovered: bool = True) -> dict[str, Any]:
    """Write and log the run summary; raise PermanentFailure when the run did not do its job."""
    outcomes = loads.load_outcomes(items)
    docs = data_docs(items) if any(o["status"] in ("loaded", "rejected") for o in outcomes) else None
    with connect(autocommit=True) as conn:
        by_rule = summary.suspects_by_rule(conn)
        # a step whose XCom is missing did not succeed (failed, or skipped after a failure)
        failed_tasks = [] if discovered else ["discover"]
        if built is None:
            failed_tasks.append("dbt_build")
        if written is None:
            failed_tasks.append("export_hospital_files")
        if settings().superset_url and dashboards is None:
            failed_tasks.append("refresh_dashboards")
        s = summary.build_summary(outcomes, written or [], by_rule, failed_tasks)
        summary.write_summary(conn, dag_id, run_id, business_date, s)
    text = summary.format_summary(dag_id, business_date, s)
    if docs is not None:
        text += f"\nData Docs (validation results of this run): {docs}"
    log.info("run summary (also in meta.run_summary):\n%s", text)
    if s["status"] != "success":
        raise PermanentFailure(f"run did not complete:\n{text}")
    return {k: v for k, v in s.items() if k != "details"}


def data_docs(items: Sequence[dict[str, Any]]) -> Path | None:
    """Render the GX Data Docs of this run's validations (DATA_DOCS_DIR). Built once per run, not per
    load: rendering costs seconds. A rendering error is logged, never fails the run: the results
    themselves are already in meta.validation_results."""
    from ingestion.gx_docs import build_data_docs

    since = min(datetime.fromisoformat(i["discovered_at"]) for i in items)
    try:
        return build_data_docs(since=since)
    except Exception:  # noqa: BLE001 - documentation only; logged with its traceback
        log.exception("Data Docs could not be built")
        return None
