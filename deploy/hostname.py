"""Task-instance hostname of a named Celery worker.

Airflow records `hostname_callable()` on every task instance it runs. Two
workers on one machine would both record the machine's name, so
deploy/entrypoints/airflow.sh points `[core] hostname_callable` here when
AIRFLOW_WORKER_NAME is set, and the UI (and tests) can tell them apart.
"""

from __future__ import annotations

import socket

from warehouse.config import settings


def worker_hostname() -> str:
    name = settings().worker_name
    host = socket.gethostname()
    return f"{name}@{host}" if name else host
