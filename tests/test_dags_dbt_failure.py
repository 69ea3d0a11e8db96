"""A failing dbt step stops what follows it, in a real `airflow dags test daily_monitoring`.

The warehouse's load ledger says every daily feed last loaded 60 hours ago and
the landing has nothing new, so the dbt step's source freshness check (error
after 50 h) fails it: the exports and the dashboard refresh must not run
(upstream_failed), the summary must run and record the failure, and no model
may be built.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import psycopg
import pytest
from _airflow_run import run_dag, task_states

from ingestion.contract import DAILY_KINDS
from ingestion.schema import ensure_schema

pytestmark = pytest.mark.slow

RUN_DATE = date(2024, 3, 2)


def test_failed_dbt_step_leaves_exports_and_dashboards_unrun(tmp_path: Path, make_db) -> None:
    url = make_db("mfm_gaps_dbtfail")
    with psycopg.connect(url, autocommit=True) as conn:
        ensure_schema(conn)
        for kind in DAILY_KINDS:
            conn.execute("INSERT INTO meta.load_log (section, business_date, kind, status, finished_at)"
                         " VALUES ('daily', %s, %s, 'loaded', now() - interval '60 hours')",
                         (date(2024, 3, 1), kind.name))
    landing = tmp_path / "landing"
    (landing / "daily").mkdir(parents=True)
    (landing / "reference").mkdir()
    home = tmp_path / "airflow"

    # a source past error_after stops the build only when the bureau opts in (FRESHNESS_STOPS_BUILD)
    rc, out = run_dag(tmp_path, landing, url, "daily_monitoring", RUN_DATE, home,
                      extra_env={"FRESHNESS_STOPS_BUILD": "true"})
    assert rc == 1, out[-4000:]
    assert "stale or never loaded" in out, out[-6000:]
    states = task_states(home, "daily_monitoring")
    assert states["dbt_build"] == "failed", states
    assert states["export_hospital_files"] == "upstream_failed", states
    assert states["refresh_dashboards"] == "upstream_failed", states
    assert states["run_summary"] == "failed", states  # ran (all_done), then failed the run
    assert not (tmp_path / "exports").exists() or not any((tmp_path / "exports").rglob("*.csv"))
    with psycopg.connect(url) as conn:
        status, details = conn.execute(
            "SELECT status, details FROM meta.run_summary WHERE dag_id = 'daily_monitoring'").fetchone()
        assert status == "failed"
        assert "dbt_build" in str(details) and "export_hospital_files" in str(details)
        built = conn.execute("SELECT count(*) FROM information_schema.schemata"
                             " WHERE schema_name IN ('stg', 'catalogue', 'marts')").fetchone()[0]
        assert built == 0
