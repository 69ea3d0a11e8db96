"""The one place where settings are read.

Every setting is an environment variable with a documented default
(docs/configuration.md). Modules import `settings()` instead of reading
os.environ themselves, so a reader finds every knob here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    warehouse_url: str | None
    """WAREHOUSE_URL: PostgreSQL URL of the warehouse; unset = embedded server under var/."""
    var_dir: Path
    """VAR_DIR: runtime state (embedded PostgreSQL, landing, exports, logs). Default <repo>/var."""
    landing_dir: Path
    """LANDING_DIR: where deliveries arrive. Default $VAR_DIR/landing."""
    exports_dir: Path
    """EXPORTS_DIR: per-hospital violation exports. Default $VAR_DIR/exports."""
    data_docs_dir: Path
    """DATA_DOCS_DIR: Great Expectations Data Docs site. Default $VAR_DIR/data_docs."""
    load_chunk_bytes: int
    """LOAD_CHUNK_BYTES: bytes per COPY write while streaming a file. Default 1 MiB."""
    load_screen: bool
    """LOAD_SCREEN: true (default) = with the typed copy of UTF-8 daily files, the files are screened
    in pyarrow and only the rows a check may refuse (and refund lines) are copied as text for the SQL
    checks; false = every file is copied as text in full. Same results either way (ingestion.screen)."""
    load_typed_copy: bool
    """LOAD_TYPED_COPY: true (default) = a daily file is also COPYed typed, beside the text copy the
    checks read, and the rows the checks refuse are deleted from it; false = good rows are cast by
    INSERT ... SELECT from the text copy (the slower path, also the fallback)."""
    # --- orchestration (Airflow DAGs, pipeline/; docs/airflow.md) ---
    airflow_home: Path
    """AIRFLOW_HOME: Airflow's runtime home (config, SQLite metadata, logs). Default $VAR_DIR/airflow."""
    business_tz: str
    """BUSINESS_TZ: time zone of business dates and DAG schedules. Default Asia/Shanghai."""
    pipeline_start_date: str
    """PIPELINE_START_DATE: first business date the daily DAG catches up from. Default 2024-01-01."""
    load_pool_slots: int
    """LOAD_POOL_SLOTS: slots of the Airflow pool `warehouse_loads` bounding concurrent loads. Default 2."""
    task_retries: int
    """TASK_RETRIES: retries of every DAG task (exponential backoff from 1 minute). Default 2."""
    freshness_stops_build: bool
    """FRESHNESS_STOPS_BUILD: true = a source past its freshness error_after stops the daily dbt build;
    default false = it is logged as an error and recorded in the run summary, and the build goes on
    (a rerun of an old day, or one hospital's late feed, must not hold the whole city's rules)."""
    superset_url: str | None
    """SUPERSET_URL: Superset base URL; unset = the DAG skips the dashboard refresh."""
    superset_username: str
    """SUPERSET_USERNAME: Superset account the DAG refreshes caches with. Default admin."""
    superset_password: str | None
    """SUPERSET_PASSWORD: its password (set in the environment, never in the repo)."""
    smtp_host: str | None
    """SMTP_HOST: mail relay for failure alerts; unset = failures are only logged."""
    smtp_port: int
    """SMTP_PORT: default 25."""
    alert_email_from: str
    """ALERT_EMAIL_FROM: sender of failure alerts. Default medwatch@localhost."""
    alert_email_to: tuple[str, ...]
    """ALERT_EMAIL_TO: comma-separated recipients of failure alerts. Default none."""

    ingest_pause_at: str | None = None
    """INGEST_PAUSE_AT: test hook of the loader: a phase name ("after_copy", "before_commit") at which
    a load sleeps INGEST_PAUSE_SECONDS, so tests can kill -9 it mid-load. Unset in production."""
    ingest_pause_seconds: float = 0.0
    """INGEST_PAUSE_SECONDS: how long the INGEST_PAUSE_AT hook sleeps. Default 0."""

    worker_name: str | None = None
    """AIRFLOW_WORKER_NAME: name a Celery worker records as task-instance hostname (deploy/hostname.py),
    so several workers on one machine are told apart. Unset = the machine's hostname."""

    db_role_passwords: dict[str, str] = field(default_factory=dict)
    """MFM_LOADER_PASSWORD, MFM_TRANSFORMER_PASSWORD, MFM_BI_PASSWORD, MFM_AUDITOR_PASSWORD: passwords
    `python -m warehouse.security apply` sets on the login roles (docs/security.md); unset = left as is."""
    hospital_demo_password: str | None = None
    """MFM_HOSPITAL_DEMO_PASSWORD: password of the demo hospital logins (hosp_<code>_demo); unset = none."""

    @property
    def embedded_dir(self) -> Path:
        return self.var_dir / "pg"


def settings() -> Settings:
    var_dir = Path(os.environ.get("VAR_DIR", REPO_ROOT / "var")).resolve()
    return Settings(
        warehouse_url=os.environ.get("WAREHOUSE_URL") or None,
        var_dir=var_dir,
        landing_dir=Path(os.environ.get("LANDING_DIR", var_dir / "landing")).resolve(),
        exports_dir=Path(os.environ.get("EXPORTS_DIR", var_dir / "exports")).resolve(),
        data_docs_dir=Path(os.environ.get("DATA_DOCS_DIR", var_dir / "data_docs")).resolve(),
        load_chunk_bytes=int(os.environ.get("LOAD_CHUNK_BYTES", str(1 << 20))),
        load_typed_copy=os.environ.get("LOAD_TYPED_COPY", "true").strip().lower() in ("1", "true", "yes"),
        load_screen=os.environ.get("LOAD_SCREEN", "true").strip().lower() in ("1", "true", "yes"),
        ingest_pause_at=os.environ.get("INGEST_PAUSE_AT") or None,
        ingest_pause_seconds=float(os.environ.get("INGEST_PAUSE_SECONDS", "0") or 0),
        airflow_home=Path(os.environ.get("AIRFLOW_HOME", var_dir / "airflow")).resolve(),
        business_tz=os.environ.get("BUSINESS_TZ", "Asia/Shanghai"),
        pipeline_start_date=os.environ.get("PIPELINE_START_DATE", "2024-01-01"),
        load_pool_slots=int(os.environ.get("LOAD_POOL_SLOTS", "2")),
        task_retries=int(os.environ.get("TASK_RETRIES", "2")),
        freshness_stops_build=os.environ.get("FRESHNESS_STOPS_BUILD", "false").strip().lower() in ("1", "true", "yes"),
        superset_url=os.environ.get("SUPERSET_URL") or None,
        superset_username=os.environ.get("SUPERSET_USERNAME", "admin"),
        superset_password=os.environ.get("SUPERSET_PASSWORD") or None,
        smtp_host=os.environ.get("SMTP_HOST") or None,
        smtp_port=int(os.environ.get("SMTP_PORT", "25")),
        alert_email_from=os.environ.get("ALERT_EMAIL_FROM", "medwatch@localhost"),
        alert_email_to=tuple(a.strip() for a in os.environ.get("ALERT_EMAIL_TO", "").split(",") if a.strip()),
        worker_name=os.environ.get("AIRFLOW_WORKER_NAME") or None,
        db_role_passwords={
            role: os.environ[var]
            for role, var in (("mfm_loader", "MFM_LOADER_PASSWORD"), ("mfm_transformer", "MFM_TRANSFORMER_PASSWORD"),
                              ("mfm_bi_readonly", "MFM_BI_PASSWORD"), ("mfm_auditor", "MFM_AUDITOR_PASSWORD"))
            if os.environ.get(var)
        },
        hospital_demo_password=os.environ.get("MFM_HOSPITAL_DEMO_PASSWORD") or None,
    )
