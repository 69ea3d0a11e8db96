"""Celery configuration of the Airflow workers: Airflow's own defaults, plus one preload.

Airflow runs every task in a process forked from the Celery worker, so a
module the worker imported before forking is already loaded in every task.
Great Expectations, which every load task validates with, costs about 14 s
of CPU to import (over a minute on a busy machine): imported here once per
worker instead of once per task (docs/scaling.md has the figures).
deploy/entrypoints/airflow.sh points `[celery] celery_config_options` here
for workers only; the scheduler keeps Airflow's default module.
"""

from __future__ import annotations

import great_expectations  # noqa: F401  (the preload: see above)
from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

CELERY_CONFIG = DEFAULT_CELERY_CONFIG
