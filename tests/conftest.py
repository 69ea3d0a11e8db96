"""Shared fixtures: every test that touches PostgreSQL gets its own fresh database
on the warehouse server (WAREHOUSE_URL, or the embedded server when unset)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

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


# The shared DAG run (tests/_dag_run.py): one real `airflow dags test` per session.
from _dag_run import dag_landing, dag_run  # noqa: E402, F401
