"""Every Superset-side setting, read from the environment in one place (docs/configuration.md).

Imported by superset_config.py and deploy.py (Superset's virtualenv) and by the tests and the
demo summary (the pipeline's); standard library only, so it works in both. The defaults make a
bare `make demo` work: the warehouse is WAREHOUSE_URL or the embedded server under $VAR_DIR/pg,
Superset's metadata is a separate database `superset_meta` on the same server, and Superset
queries as the read-only BI role.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlparse, urlunparse

from warehouse.config import settings as warehouse_settings
from warehouse.embedded import url_for

BI_ROLE = "mfm_bi_readonly"
META_DATABASE = "superset_meta"
# Superset role of one institution: inst_<fixmedins_code> (deploy.py creates them; the connection
# mutator in superset_config.py reads the code back from the name).
INSTITUTION_ROLE_PREFIX = "inst_"


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name) or default


def sqlalchemy_url(url: str) -> str:
    """postgresql://... -> postgresql+psycopg2://... (the driver Superset's virtualenv has)."""
    u = urlparse(url)
    return urlunparse(u._replace(scheme="postgresql+psycopg2")) if u.scheme in ("postgres", "postgresql") else url


def with_user(url: str, user: str, password: str | None = None) -> str:
    """The same server and database as another login; keeps ?host=<socket dir> of the embedded server."""
    u = urlparse(url)
    host = u.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    auth = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    port = f":{u.port}" if u.port else ""
    return urlunparse(u._replace(netloc=f"{auth}@{host}{port}"))


def with_database(url: str, database: str) -> str:
    return urlunparse(urlparse(url)._replace(path="/" + database))


@dataclass(frozen=True)
class SupersetSettings:
    warehouse_url: str
    """WAREHOUSE_URL, else the embedded server's URL (the server must be running to be used)."""
    bi_url: str
    """SUPERSET_WAREHOUSE_URL: Superset's connection. Default: WAREHOUSE_URL as role mfm_bi_readonly
    (password MFM_BI_PASSWORD when set)."""
    meta_url: str
    """SUPERSET_META_URL: metadata DB. Default: database superset_meta on the warehouse's server."""
    secret_key: str
    """SUPERSET_SECRET_KEY: Flask secret. Default: a demo-only value."""
    base_url: str
    """SUPERSET_BASE_URL: where report screenshots open dashboards. Default http://127.0.0.1:$SUPERSET_PORT/."""
    port: int
    """SUPERSET_PORT: gunicorn's port. Default 8088."""
    redis_url: str
    """SUPERSET_REDIS_URL: cache + Celery broker, no db suffix. Default redis://127.0.0.1:6379."""
    redis_db: str
    """SUPERSET_REDIS_DB: Redis database number. Default 3."""
    locale: str
    """SUPERSET_LOCALE: UI language, zh or en. Default zh."""
    admin_user: str
    """SUPERSET_ADMIN_USER. Default admin."""
    admin_password: str
    """SUPERSET_ADMIN_PASSWORD. Default admin (demo only; the container entry script requires it)."""
    demo_password: str
    """SUPERSET_DEMO_PASSWORD: password of the demo logins. Default demo."""
    demo_hospitals: tuple[str, ...]
    """SUPERSET_DEMO_HOSPITALS: institution codes that get a demo login. Default: the first two hospitals."""
    manager_emails: str
    """SUPERSET_MANAGER_EMAILS: recipients of the weekly snapshots. Default manager@mfm.local."""
    report_cron: str
    """SUPERSET_REPORT_CRON: their schedule (Asia/Shanghai). Default 0 8 * * 1 (Monday 08:00)."""
    report_format: str
    """SUPERSET_REPORT_FORMAT: PNG or PDF. Default PNG."""
    run_dir: Path
    """SUPERSET_RUN_DIR: pid files, logs, deploy result of `make superset-up`. Default $VAR_DIR/superset."""
    mail_dir: Path
    """SUPERSET_MAIL_DIR: where the demo SMTP sink writes mail. Default $VAR_DIR/mail."""
    screenshot_dir: Path
    """SUPERSET_SCREENSHOT_DIR: dashboard screenshots of the tests (CI artifacts).
    Default $VAR_DIR/artifacts/screenshots."""
    smtp_host: str
    """SMTP_HOST. Default 127.0.0.1 (the sink)."""
    smtp_port: int
    """SMTP_PORT. Default 8025 (the sink)."""
    smtp_starttls: bool
    """SMTP_STARTTLS: true = STARTTLS to the relay. Default false."""
    smtp_ssl: bool
    """SMTP_SSL: true = SMTPS. Default false."""
    smtp_user: str
    """SMTP_USER: relay login. Default none."""
    smtp_password: str
    """SMTP_PASSWORD: relay password. Default none."""
    smtp_mail_from: str
    """SMTP_MAIL_FROM: sender of report mails. Default mfm-superset@localhost."""
    chromium_bin: str
    """CHROMIUM_BIN. Default /usr/bin/chromium."""
    chromedriver_bin: str
    """CHROMEDRIVER_BIN. Default /usr/bin/chromedriver."""

    @property
    def deploy_result(self) -> Path:
        return self.run_dir / "deploy.json"


def settings() -> SupersetSettings:
    wh = warehouse_settings()
    var_dir = wh.var_dir
    warehouse_url = wh.warehouse_url or url_for(wh.embedded_dir)
    port = int(_env("SUPERSET_PORT", "8088"))
    bi_password = os.environ.get("MFM_BI_PASSWORD") or None
    return SupersetSettings(
        warehouse_url=warehouse_url,
        bi_url=_env("SUPERSET_WAREHOUSE_URL", with_user(warehouse_url, BI_ROLE, bi_password)),
        meta_url=sqlalchemy_url(_env("SUPERSET_META_URL", with_database(warehouse_url, META_DATABASE))),
        secret_key=_env("SUPERSET_SECRET_KEY", "mfm-demo-only-change-me-0123456789abcdef"),
        base_url=_env("SUPERSET_BASE_URL", f"http://127.0.0.1:{port}/"),
        port=port,
        redis_url=_env("SUPERSET_REDIS_URL", "redis://127.0.0.1:6379"),
        redis_db=_env("SUPERSET_REDIS_DB", "3"),
        locale=_env("SUPERSET_LOCALE", "zh"),
        admin_user=_env("SUPERSET_ADMIN_USER", "admin"),
        admin_password=_env("SUPERSET_ADMIN_PASSWORD", "admin"),
        demo_password=_env("SUPERSET_DEMO_PASSWORD", "demo"),
        demo_hospitals=tuple(c.strip() for c in _env("SUPERSET_DEMO_HOSPITALS").split(",") if c.strip()),
        manager_emails=_env("SUPERSET_MANAGER_EMAILS", "manager@mfm.local"),
        report_cron=_env("SUPERSET_REPORT_CRON", "0 8 * * 1"),
        report_format=_env("SUPERSET_REPORT_FORMAT", "PNG").upper(),
        run_dir=Path(_env("SUPERSET_RUN_DIR", str(var_dir / "superset"))).resolve(),
        mail_dir=Path(_env("SUPERSET_MAIL_DIR", str(var_dir / "mail"))).resolve(),
        screenshot_dir=Path(_env("SUPERSET_SCREENSHOT_DIR", str(var_dir / "artifacts" / "screenshots"))).resolve(),
        smtp_host=_env("SMTP_HOST", "127.0.0.1"),
        smtp_port=int(_env("SMTP_PORT", "8025")),
        smtp_starttls=_env("SMTP_STARTTLS", "false").lower() == "true",
        smtp_ssl=_env("SMTP_SSL", "false").lower() == "true",
        smtp_user=_env("SMTP_USER"),
        smtp_password=_env("SMTP_PASSWORD"),
        smtp_mail_from=_env("SMTP_MAIL_FROM", "mfm-superset@localhost"),
        chromium_bin=_env("CHROMIUM_BIN", "/usr/bin/chromium"),
        chromedriver_bin=_env("CHROMEDRIVER_BIN", "/usr/bin/chromedriver"),
    )


def main() -> int:
    """`python -m superset_assets.settings NAME`: print one setting (for the make targets)."""
    import sys

    value = getattr(settings(), sys.argv[1])
    print(value)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
