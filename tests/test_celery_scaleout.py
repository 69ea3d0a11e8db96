"""Scale-out: daily_monitoring under CeleryExecutor with two workers equals a single-process run.

A scheduler, a dag-processor, an api-server (the execution API the task
workers call) and two named Celery workers are started through
deploy/entrypoints/airflow.sh, the entry script the containers run, against
the Redis on 127.0.0.1:6379 (broker, on a private queue) and a fresh
metadata database (also the Celery result backend). The run's mapped load
tasks must have run on both workers, and the warehouse it produced must
equal the one `airflow dags test` produces from the same landing folder.
The compose healthchecks (`airflow.sh health ...`) are run against the live
components too.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from _dag_run import DAG_RUN_GROUP, FIRST_DAY, RUN_DATE, DagRun

from deploy.cluster import CeleryCluster
from warehouse.config import REPO_ROOT

pytestmark = [pytest.mark.slow, DAG_RUN_GROUP]

BUSINESS_DATE = RUN_DATE.isoformat()
LOAD_TASKS = {"load_daily", "load_reference"}
# Columns whose values depend on timing or on the order loads happened to run in.
VOLATILE_COLUMNS = {"load_id", "kind_load_id"}


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=2) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def fingerprint(url: str) -> dict[str, tuple[int, str]]:
    """Row count and an order-independent digest of every staging and marts table."""
    out: dict[str, tuple[int, str]] = {}
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname in ('staging', 'marts') and c.relkind in ('r', 'p') and not c.relispartition"
            " order by 1, 2"
        ).fetchall()
        for schema, table in tables:
            cols = [
                name
                for name, typ in conn.execute(
                    "select attname, format_type(atttypid, atttypmod) from pg_attribute"
                    " where attrelid = format('%%I.%%I', %s::text, %s::text)::regclass"
                    " and attnum > 0 and not attisdropped order by attnum",
                    (schema, table),
                ).fetchall()
                if name not in VOLATILE_COLUMNS and not name.endswith("_at") and "with time zone" not in typ
            ]
            collist = ", ".join(f'"{c}"' for c in cols)
            count, digest = conn.execute(
                f'select count(*), md5(coalesce(string_agg(r, E\'\\n\' order by r), \'\'))'
                f' from (select row({collist})::text as r from "{schema}"."{table}") t'
            ).fetchone()
            out[f"{schema}.{table}"] = (count, digest)
    return out


def pipeline_env(warehouse_url: str, landing: Path, var_dir: Path) -> dict[str, str]:
    return {
        "WAREHOUSE_URL": warehouse_url,
        "LANDING_DIR": str(landing),
        "VAR_DIR": str(var_dir),
        "PIPELINE_START_DATE": FIRST_DAY.isoformat(),
        "TASK_RETRIES": "0",
        "DBT_THREADS": "2",
    }


@pytest.mark.skipif(not _redis_up(), reason="needs Redis on 127.0.0.1:6379 (.ci/run starts it)")
def test_two_celery_workers_share_the_loads_and_match_a_single_process_run(
    make_db: Callable[[str], str], dag_run: DagRun, tmp_path: Path
) -> None:
    assert dag_run.returncode == 0, dag_run.output[-3000:]
    landing = dag_run.landing
    scaled_wh, meta = make_db("mfm_scale_wh"), make_db("mfm_scale_meta")
    cluster = CeleryCluster(
        meta_url=meta,
        workdir=tmp_path / "cluster",
        dags_folder=REPO_ROOT / "dags",
        workers=("worker1", "worker2"),
        worker_concurrency=1,
        extra_env={
            **pipeline_env(scaled_wh, landing, tmp_path / "cluster" / "var"),
            # The scheduler creates no scheduled (catch-up) runs: only the one triggered here runs.
            "AIRFLOW__SCHEDULER__MAX_DAGRUNS_TO_CREATE_PER_LOOP": "0",
        },
    )
    with cluster:
        cluster.wait_for_dag("daily_monitoring", timeout=300)
        t0 = time.monotonic()
        run_id = cluster.trigger("daily_monitoring", logical_date=f"{BUSINESS_DATE}T00:00:00+00:00")
        state = cluster.wait_for_run("daily_monitoring", run_id, timeout=1200)
        scaled_seconds = time.monotonic() - t0
        tis = cluster.task_instances("daily_monitoring", run_id)
        # the compose healthchecks, run here against live components
        cluster.run("health", "api-server")
        cluster.run("health", "scheduler")
        cluster.run("health", "celery-worker", env={"AIRFLOW_WORKER_NAME": "worker2"})

    report = "\n".join(f"{t['task_id']} [{t['map_index']}] {t['state']} on {t['hostname']}" for t in tis)
    assert state == "success", report
    loads = [t for t in tis if t["task_id"] in LOAD_TASKS]
    days = (RUN_DATE - FIRST_DAY).days + 1
    assert len(loads) >= 2 * days, report  # every kind of every day, mapped
    assert all(t["state"] == "success" for t in loads), report
    hosts = {t["hostname"].split("@")[0] for t in loads}
    assert hosts == {"worker1", "worker2"}, f"loads ran on {hosts}:\n{report}"

    # the single-process run is the session's shared `airflow dags test` run of the same landing
    scaled, single = fingerprint(scaled_wh), fingerprint(dag_run.url)
    assert scaled.keys() == single.keys()
    assert any(count for count, _ in single.values()), "the single-process run loaded nothing"
    differing = {t: (scaled[t], single[t]) for t in single if scaled[t] != single[t]}
    assert not differing, differing
    print(f"\nscale-out figures: celery 2x1 {scaled_seconds:.0f}s, "
          f"{len(loads)} mapped loads\n{report}")
