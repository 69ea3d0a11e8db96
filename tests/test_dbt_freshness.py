"""dbt source freshness on the load ledger (models/staging/_sources.yml): warn past 26 h, error past 50 h.

The ledger of a fresh database is written by hand with loads of different
ages; one real `dbt source freshness` reads it. The daily dbt step
(steps.check_freshness_and_build, run by the DAG's dbt_build task) must stop before building when a source is
past error_after, and only warn for one past warn_after.
"""

from __future__ import annotations

import logging
import os
from datetime import date
from pathlib import Path

import psycopg
import pytest

from ingestion.schema import ensure_schema
from pipeline import dbt_build
from warehouse.config import REPO_ROOT

# kind -> ledger rows (status, hours ago)
LEDGER: dict[str, list[tuple[str, int]]] = {
    "his_mdtrt": [("loaded", 1)],
    "his_diag": [("loaded", 30)],                          # past warn_after (26 h)
    "his_feedetail": [("loaded", 60)],                     # past error_after (50 h)
    "pharmacy_sales": [("loaded", 60), ("rejected", 1)],  # a rejected load does not count
    "setl": [],                                            # never loaded
}


@pytest.fixture
def stale_warehouse(make_db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = make_db("mfm_gaps_fresh")
    with psycopg.connect(url, autocommit=True) as conn:
        ensure_schema(conn)
        for kind, loads in LEDGER.items():
            for status, hours in loads:
                conn.execute(
                    "INSERT INTO meta.load_log (section, business_date, kind, status, started_at, finished_at)"
                    " VALUES ('daily', %s, %s, %s, now() - make_interval(hours => %s),"
                    " now() - make_interval(hours => %s))", (date(2024, 3, 1), kind, status, hours, hours))
    monkeypatch.setenv("WAREHOUSE_URL", url)
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "target" / "logs"))
    return url


def _names(lines: list[str]) -> set[str]:
    return {line.split(":", 1)[0] for line in lines}


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory: pytest.TempPathFactory):
    os.environ.setdefault("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow_home")))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    assert bag.import_errors == {}
    return bag


def test_stale_sources_warn_or_stop_the_daily_build(stale_warehouse: str, dagbag, caplog: pytest.LogCaptureFixture,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    found = dbt_build.source_freshness()
    assert _names(found["pass"]) == {"staging.his_mdtrt", "meta.load_log"}
    assert _names(found["warn"]) == {"staging.his_diag"}
    assert _names(found["error"]) == {"staging.his_feedetail", "staging.pharmacy_sales", "staging.setl"}
    assert any("30 h ago" in line for line in found["warn"])

    # warnings alone: logged, the build goes on
    with caplog.at_level(logging.WARNING, logger="pipeline.dbt_build"):
        counts = dbt_build.check_freshness({**found, "error": []})
    assert counts == {"pass": 2, "warn": 1, "error": 0}
    assert "dbt source freshness warning: staging.his_diag" in caplog.text

    # by default errors are logged and the build goes on (FRESHNESS_STOPS_BUILD=false)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pipeline.dbt_build"):
        counts = dbt_build.check_freshness(found)
    assert counts == {"pass": 2, "warn": 1, "error": 3}
    assert "dbt source freshness error (FRESHNESS_STOPS_BUILD=false: the build goes on): staging.setl" in caplog.text

    # opted in: the real DAG's dbt task fails for good (no retry), before any model is built
    from airflow.sdk.exceptions import AirflowFailException

    monkeypatch.setenv("FRESHNESS_STOPS_BUILD", "true")

    dbt_task = dagbag.dags["daily_monitoring"].get_task("dbt_build")
    with pytest.raises(AirflowFailException, match="stale or never loaded") as err:
        dbt_task.python_callable()
    assert {"staging.his_feedetail", "staging.pharmacy_sales", "staging.setl"} <= {
        line.strip().split(":", 1)[0] for line in str(err.value).splitlines()[1:]}
    with psycopg.connect(stale_warehouse) as conn:
        built = conn.execute("SELECT count(*) FROM information_schema.schemata"
                             " WHERE schema_name IN ('stg', 'catalogue', 'marts')").fetchone()[0]
    assert built == 0, "the build must not start when a source is stale"
