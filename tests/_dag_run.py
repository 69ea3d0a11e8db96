"""One real `airflow dags test daily_monitoring` run, shared by the end-to-end tiers.

The pipeline e2e tests, the Celery scale-out comparison and the Superset tests
all need a warehouse built by the real DAG from the same small landing folder;
building it once per session (and pinning its users to one xdist group) keeps
`make test` inside CI's budget without weakening any of them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from _airflow_run import run_dag

START = date(2024, 1, 1)
SEED = 42
# The generator needs >= 28 days; the DAG run sees three of them, days that with this
# seed carry planted suspects of institutions.
FIRST_DAY, RUN_DATE = date(2024, 1, 7), date(2024, 1, 9)
SMALL = {"hospitals": 8, "pharmacies": 4, "persons": 1500,
         "per_day": {"outpatient": 60, "pharmacy": 15, "stays": 3}}
# Tests that use the shared run go to one xdist worker so the run happens once.
DAG_RUN_GROUP = pytest.mark.xdist_group("dag_run")


@dataclass(frozen=True)
class DagRun:
    returncode: int
    output: str
    url: str
    exports_dir: Path
    landing: Path
    data_docs_dir: Path


def small_landing(out: Path) -> Path:
    """FIRST_DAY..RUN_DATE's daily folders and every reference snapshot of the generated month."""
    from synthetic.generate import generate

    generate(out, START, 28, seed=SEED, encoding="mix", params=SMALL, quiet=True)
    for d in (out / "daily").iterdir():
        if not FIRST_DAY <= date.fromisoformat(d.name) <= RUN_DATE:
            shutil.rmtree(d)
    return out


def run_pipeline(tmp: Path, landing: Path, url: str, name: str, airflow_home: Path | None = None,
                 run_date: date = RUN_DATE) -> tuple[int, str]:
    """daily_monitoring for run_date (airflow dags test) with output folders named after `name`."""
    return run_dag(tmp, landing, url, "daily_monitoring", run_date, airflow_home or (tmp / f"airflow_{name}"),
                   suffix=f"_{name}", timeout=1800)


@pytest.fixture(scope="session")
def dag_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_landing(tmp_path_factory.mktemp("dag_landing"))


@pytest.fixture(scope="session")
def dag_run(dag_landing: Path, tmp_path_factory: pytest.TempPathFactory, server_url: str) -> Iterator[DagRun]:
    """The clean run: daily_monitoring for RUN_DATE over dag_landing into a fresh warehouse database."""
    from warehouse.testing import create_database, drop_database

    tmp = tmp_path_factory.mktemp("dag_run")
    url = create_database(server_url, "mfm_e2e_clean")
    rc, out = run_pipeline(tmp, dag_landing, url, "clean")
    yield DagRun(rc, out, url, tmp / "exports_clean", dag_landing, tmp / "data_docs")
    if not os.environ.get("KEEP_TEST_DBS"):
        drop_database(server_url, url)
