"""Superset configuration for the fund-monitoring dashboards (loaded via SUPERSET_CONFIG_PATH).

Everything that differs between machines comes from environment variables
(documented in docs/superset.md); nothing secret is in the repository.
Superset runs in its own virtualenv (.venv-superset), so this file only uses
the standard library and Superset itself.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from celery.schedules import crontab

_REPO = Path(__file__).resolve().parent.parent
_VAR = Path(os.environ.get("VAR_DIR", _REPO / "var")).resolve()


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


# Metadata in PostgreSQL, in its own database (never the warehouse database).
SQLALCHEMY_DATABASE_URI = _env("SUPERSET_META_URL", "postgresql+psycopg2://root@127.0.0.1:5432/superset_meta")
# Demo default only: `make superset-up` and the tests always pass their own.
SECRET_KEY = _env("SUPERSET_SECRET_KEY", "mfm-demo-only-change-me-0123456789abcdef")

SCARF_ANALYTICS = False
# The UI talks to 127.0.0.1 only; Talisman's CSP blocks nothing we need but
# its HTTPS redirect would break plain-http localhost.
TALISMAN_ENABLED = False
BABEL_DEFAULT_LOCALE = _env("SUPERSET_LOCALE", "zh")
LANGUAGES = {"zh": {"flag": "cn", "name": "简体中文"}, "en": {"flag": "us", "name": "English"}}
ROW_LIMIT = 50000

FEATURE_FLAGS = {
    "ALERT_REPORTS": True,
    # Dashboards carry roles: a hospital role sees dashboard 4 only.
    "DASHBOARD_RBAC": True,
    "DASHBOARD_NATIVE_FILTERS": True,
    "ENABLE_TEMPLATE_PROCESSING": False,
}

_REDIS = _env("SUPERSET_REDIS_URL", "redis://127.0.0.1:6379")
_REDIS_DB = _env("SUPERSET_REDIS_DB", "3")

CACHE_CONFIG = {
    "CACHE_TYPE": "RedisCache",
    "CACHE_DEFAULT_TIMEOUT": 300,
    "CACHE_KEY_PREFIX": "mfm_superset_",
    "CACHE_REDIS_URL": f"{_REDIS}/{_REDIS_DB}",
}
# Chart data must never be served stale across RLS changes in tests: short timeouts.
DATA_CACHE_CONFIG = {**CACHE_CONFIG, "CACHE_KEY_PREFIX": "mfm_superset_data_", "CACHE_DEFAULT_TIMEOUT": 60}
RESULTS_BACKEND_USE_MSGPACK = True


class CeleryConfig:
    broker_url = f"{_REDIS}/{_REDIS_DB}"
    result_backend = f"{_REDIS}/{_REDIS_DB}"
    imports = ("superset.sql_lab", "superset.tasks.scheduler", "superset.tasks.thumbnails")
    worker_prefetch_multiplier = 1
    task_acks_late = False
    beat_schedule = {
        "reports.scheduler": {
            "task": "reports.scheduler",
            "schedule": crontab(minute="*", hour="*"),
            "options": {"expires": 59},
        },
        "reports.prune_log": {"task": "reports.prune_log", "schedule": crontab(minute=0, hour=0)},
    }


CELERY_CONFIG = CeleryConfig

# Report screenshots: Debian's chromium + chromedriver through Selenium.
WEBDRIVER_TYPE = "chrome"
WEBDRIVER_BASEURL = _env("SUPERSET_BASE_URL", "http://127.0.0.1:8088/")
WEBDRIVER_BASEURL_USER_FRIENDLY = WEBDRIVER_BASEURL
WEBDRIVER_OPTION_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]
WEBDRIVER_CONFIGURATION = {
    "options": {"capabilities": {}, "preferences": {}, "binary_location": _env("CHROMIUM_BIN", "/usr/bin/chromium")},
    "service": {
        "executable_path": _env("CHROMEDRIVER_BIN", "/usr/bin/chromedriver"),
        "log_output": "/dev/null",
        "service_args": [],
        "port": 0,
        "env": {},
    },
}
WEBDRIVER_WINDOW = {"dashboard": (1600, 2000), "slice": (1600, 1200), "pixel_density": 1}
# Generous: the first page a cold gunicorn worker serves on 2 shared cores can take 30 s+.
SCREENSHOT_LOCATE_WAIT = 90
SCREENSHOT_LOAD_WAIT = 90
EMAIL_PAGE_RENDER_WAIT = 30
ALERT_REPORTS_NOTIFICATION_DRY_RUN = False
ALERT_REPORTS_WORKING_TIME_OUT_KILL = True
ALERT_REPORTS_DEFAULT_WORKING_TIMEOUT = int(timedelta(minutes=10).total_seconds())

# Mail: a local aiosmtpd sink in the demo (var/mail), the bureau relay in production.
SMTP_HOST = _env("SMTP_HOST", "127.0.0.1")
SMTP_PORT = int(_env("SMTP_PORT", "8025"))
SMTP_STARTTLS = _env("SMTP_STARTTLS", "false").lower() == "true"
SMTP_SSL = _env("SMTP_SSL", "false").lower() == "true"
SMTP_USER = os.environ.get("SMTP_USER", "")
SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD", "")
SMTP_MAIL_FROM = _env("SMTP_MAIL_FROM", "mfm-superset@localhost")
EMAIL_REPORTS_SUBJECT_PREFIX = "[医保基金监控] "

# Uploads/exports of the demo stay under var/.
DATA_DIR = str(_VAR / "superset")
