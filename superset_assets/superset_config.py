"""Superset configuration for the fund-monitoring dashboards (loaded via SUPERSET_CONFIG_PATH).

Everything that differs between machines comes from environment variables, read by
superset_assets/settings.py (documented in docs/configuration.md); nothing secret is in the
repository. Superset runs in its own virtualenv (.venv-superset), so this file only uses the
standard library, Superset itself and that settings module.
"""

from __future__ import annotations

import re
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from celery.schedules import crontab

# Superset loads this file by path: make the repository importable for the settings module.
_REPO = Path(__file__).resolve().parent.parent
if str(_REPO) not in sys.path:
    sys.path.insert(0, str(_REPO))

from superset_assets.settings import INSTITUTION_ROLE_PREFIX, settings  # noqa: E402

_S = settings()

# Metadata in PostgreSQL, in its own database on the warehouse's server (never the warehouse database).
SQLALCHEMY_DATABASE_URI = _S.meta_url
# Demo default only: production sets SUPERSET_SECRET_KEY (the container entry script requires it).
SECRET_KEY = _S.secret_key

SCARF_ANALYTICS = False
# The UI talks to 127.0.0.1 only; Talisman's CSP blocks nothing we need but
# its HTTPS redirect would break plain-http localhost.
TALISMAN_ENABLED = False
BABEL_DEFAULT_LOCALE = _S.locale
LANGUAGES = {"zh": {"flag": "cn", "name": "简体中文"}, "en": {"flag": "us", "name": "English"}}
ROW_LIMIT = 50000

FEATURE_FLAGS = {
    "ALERT_REPORTS": True,
    # Dashboards carry roles: a hospital role sees dashboard 4 only.
    "DASHBOARD_RBAC": True,
    "DASHBOARD_NATIVE_FILTERS": True,
    "ENABLE_TEMPLATE_PROCESSING": False,
}

_REDIS = _S.redis_url
_REDIS_DB = _S.redis_db

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
WEBDRIVER_BASEURL = _S.base_url
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
    "options": {"capabilities": {}, "preferences": {}, "binary_location": _S.chromium_bin},
    "service": {
        "executable_path": _S.chromedriver_bin,
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
ALERT_REPORTS_NOTIFICATION_DRY_RUN = False
ALERT_REPORTS_WORKING_TIME_OUT_KILL = True
ALERT_REPORTS_DEFAULT_WORKING_TIMEOUT = int(timedelta(minutes=10).total_seconds())

# Mail: a local aiosmtpd sink in the demo (var/mail), the bureau relay in production.
SMTP_HOST = _S.smtp_host
SMTP_PORT = _S.smtp_port
SMTP_STARTTLS = _S.smtp_starttls
SMTP_SSL = _S.smtp_ssl
SMTP_USER = _S.smtp_user
SMTP_PASSWORD = _S.smtp_password
SMTP_MAIL_FROM = _S.smtp_mail_from
EMAIL_REPORTS_SUBJECT_PREFIX = "[医保基金监控] "

# Uploads/exports of the demo stay under var/.
DATA_DIR = str(_S.run_dir)


_CODE = re.compile(r"^[A-Za-z0-9_-]+$")


def DB_CONNECTION_MUTATOR(url: Any, params: dict[str, Any], username: str | None, security_manager: Any,  # noqa: N802
                          source: Any) -> tuple[Any, dict[str, Any]]:
    """A hospital user's queries run in a PostgreSQL session narrowed to its institution(s).

    Superset connects as the BI role, which the database lets read every institution; setting
    medwatch.fixmedins_code makes security.visible_codes() (warehouse/security.sql) apply the
    database's own row-level security too, so a path around Superset's RLS (e.g.
    apache/superset#24745) still returns only the hospital's rows. Superset creates a fresh
    engine per query (NullPool), so the setting never leaks into another user's session.
    """
    if not username or url.get_backend_name() != "postgresql":
        return url, params
    user = security_manager.find_user(username=username)
    codes = sorted(r.name.removeprefix(INSTITUTION_ROLE_PREFIX) for r in (user.roles if user else [])
                   if r.name.startswith(INSTITUTION_ROLE_PREFIX))
    codes = [c for c in codes if _CODE.match(c)]
    if codes:
        args = params.setdefault("connect_args", {})
        args["options"] = f"{args.get('options', '')} -c medwatch.fixmedins_code={','.join(codes)}".strip()
    return url, params
