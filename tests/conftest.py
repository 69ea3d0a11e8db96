"""Shared fixtures: every test that touches PostgreSQL gets its own fresh database
on the warehouse server (WAREHOUSE_URL, or the embedded server when unset)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

# The shared DAG run (tests/_dag_run.py): one real `airflow dags test` per session.
from _dag_run import dag_landing, dag_run  # noqa: F401

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")


@pytest.fixture(scope="session")
def server_url() -> str:
    from warehouse.embedded import resolve_warehouse_url

    return resolve_warehouse_url()


@pytest.fixture
def make_db(server_url: str) -> Iterator[Callable[[str], str]]:
    """Factory: make_db("ingest") -> URL of a new empty database, dropped after the test."""
    from warehouse.testing import create_database, drop_database

    made: list[str] = []

    def _make(prefix: str = "mfm_test") -> str:
        url = create_database(server_url, prefix)
        made.append(url)
        return url

    yield _make
    if not os.environ.get("KEEP_TEST_DBS"):
        for url in made:
            drop_database(server_url, url)


@pytest.fixture
def db_url(make_db: Callable[[str], str]) -> str:
    return make_db("mfm_test")


# Longest first, so the two xdist workers finish together (figures: docs/testing.md).
_FIRST = ("dag_run", "test_superset", "test_e2e_rules", "test_reference_refresh", "test_dags_dbt_failure",
          "test_dbt_docs", "test_rules", "test_marts", "test_security", "test_compose")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under `--dist loadgroup` a module's tests stay on one worker, so module-scoped fixtures (a built
    warehouse, a Superset server) are built once; tests marked xdist_group keep their group."""
    def group(item: pytest.Item) -> str:
        marks = list(item.iter_markers("xdist_group"))
        return str(marks[0].args[0]) if marks else item.module.__name__

    for item in items:
        if not any(item.iter_markers("xdist_group")):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
    rank = {name: i for i, name in enumerate(_FIRST)}
    items.sort(key=lambda item: rank.get(group(item), len(rank)))
