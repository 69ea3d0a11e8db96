"""Deployment helpers importable by Airflow (see deploy/entrypoints/)."""
