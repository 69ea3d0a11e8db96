"""Tested task functions that the Airflow DAGs (dags/) call: discover, load, dbt, export, summary."""
