"""Deploy the dashboards into a Superset metadata database, idempotently.

Run with Superset's virtualenv and SUPERSET_CONFIG_PATH pointing at
superset_assets/superset_config.py (the superset.mk targets do this):

    .venv-superset/bin/python -m superset_assets.deploy ensure-metadata-db   # CREATE DATABASE if missing
    .venv-superset/bin/python -m superset_assets.deploy deploy       # import + roles + RLS + users + reports
    .venv-superset/bin/python -m superset_assets.deploy state        # JSON fingerprint (tests: 2nd deploy = same)
    .venv-superset/bin/python -m superset_assets.deploy run-report NAME   # one report, in-process

The bundle is imported with ImportAssetsCommand (overwrites; `superset
import-dashboards` would only create). Everything after the import is an
upsert keyed by name, so a second run changes nothing.

Settings: superset_assets/settings.py (docs/configuration.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import secrets
import sys
import time
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlparse, urlunparse

import yaml

from superset_assets import build, specs
from superset_assets.settings import INSTITUTION_ROLE_PREFIX as INSTITUTION_PREFIX
from superset_assets.settings import settings

AUDITOR, MANAGER = "auditor", "manager"
REPORT_OWNER = "mfm_reports"
MANAGER_DASHBOARDS = ("fund_overview", "rankings", "violations")
HOSPITAL_DASHBOARD = "my_institution"


def superset_url_and_password(url: str) -> tuple[str, str | None]:
    """postgresql://u:p@h/db -> (postgresql+psycopg2://u@h/db, p): the password never enters the YAML."""
    u = urlparse(url)
    scheme = "postgresql+psycopg2" if u.scheme in ("postgres", "postgresql") else u.scheme
    netloc = u.netloc
    password = u.password
    if password is not None:
        netloc = netloc.replace(f":{password}@", "@", 1)
    return urlunparse(u._replace(scheme=scheme, netloc=netloc)), password


def bundle_contents() -> tuple[dict[str, str], dict[str, str]]:
    """The YAML files as ImportAssetsCommand wants them, with the real database URL, plus passwords."""
    uri, password = superset_url_and_password(settings().bi_url)
    contents: dict[str, str] = {}
    for path in sorted(build.ASSETS_DIR.rglob("*.yaml")):
        name = str(path.relative_to(build.ASSETS_DIR))
        text = path.read_text("utf-8")
        if name.startswith("databases/"):
            cfg = yaml.safe_load(text)
            cfg["sqlalchemy_uri"] = uri
            text = yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False)
        contents[name] = text
    passwords = {"databases/warehouse.yaml": password} if password else {}
    return contents, passwords


def institutions() -> list[tuple[str, str]]:
    """(fixmedins_code, name) of every institution in the current catalogue."""
    import psycopg2

    queries = (
        # the dbt catalogue (current version of each institution)
        "SELECT fixmedins_code, max(fixmedins_name) FROM catalogue.dim_institution "
        "WHERE valid_to IS NULL GROUP BY 1 ORDER BY 1",
        # before dbt has run: every institution that appears in the hospital mart
        "SELECT fixmedins_code, max(fixmedins_name) FROM marts.mart_hospital_violations "
        "WHERE fixmedins_code IS NOT NULL GROUP BY 1 ORDER BY 1",
    )
    with psycopg2.connect(settings().warehouse_url) as conn:
        for sql in queries:
            try:
                with conn.cursor() as cur:
                    cur.execute(sql)
                    return [(str(c), str(n or c)) for c, n in cur.fetchall()]
            except psycopg2.Error:
                conn.rollback()
    return []


def ensure_metadata_db() -> dict[str, Any]:
    """Create Superset's metadata database when missing (on the same server; never the warehouse DB)."""
    import psycopg2
    from psycopg2 import sql

    meta = settings().meta_url
    name = urlparse(meta).path.lstrip("/")
    if name == urlparse(settings().warehouse_url).path.lstrip("/"):
        raise SystemExit(f"SUPERSET_META_URL names the warehouse database {name!r}: use a separate database")
    admin_url = urlunparse(urlparse(meta.replace("+psycopg2", "", 1))._replace(path="/postgres"))
    conn = psycopg2.connect(admin_url)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            created = cur.fetchone() is None
            if created:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()
    return {"database": name, "created": created}


def _app():
    from superset.app import create_app

    return create_app()


def _ensure_user(sm, username: str, roles: list, password: str | None, email: str, first: str, last: str):
    user = sm.find_user(username=username)
    if user is None:
        # Password only at creation: resetting it each run would change the hash (not idempotent).
        user = sm.add_user(username, first, last, email, roles, password=password or secrets.token_urlsafe(24))
        if not user:
            raise RuntimeError(f"could not create user {username}")
        return user
    if sorted(r.name for r in user.roles) != sorted(r.name for r in roles):
        user.roles = roles
    if user.email != email:
        user.email = email
    return user


def _ensure_role(sm, name: str, perms: list) -> Any:
    role = sm.find_role(name) or sm.add_role(name)
    current = {(p.permission.name, p.view_menu.name) for p in role.permissions}
    wanted = {(p.permission.name, p.view_menu.name) for p in perms}
    if current != wanted:
        role.permissions = perms
    return role


def deploy() -> dict[str, Any]:
    app = _app()
    with app.app_context():
        return _deploy()


def _deploy() -> dict[str, Any]:
    from superset import db
    from superset import security_manager as sm
    from superset.commands.importers.v1.assets import ImportAssetsCommand
    from superset.connectors.sqla.models import RowLevelSecurityFilter, SqlaTable
    from superset.models.dashboard import Dashboard
    from superset.reports.models import ReportRecipients, ReportSchedule
    from superset.utils.core import override_user

    cfg = settings()
    admin_name = cfg.admin_user
    admin = sm.find_user(username=admin_name)
    if admin is None:
        admin = sm.add_user(admin_name, "Superset", "Admin", f"{admin_name}@mfm.local",
                            [sm.find_role("Admin")], password=cfg.admin_password)
    db.session.commit()

    contents, passwords = bundle_contents()
    with override_user(admin):
        ImportAssetsCommand(contents, passwords=passwords).run()

    datasets = {d.key: db.session.query(SqlaTable).filter_by(uuid=uuid.UUID(d.uuid)).one()
                for d in specs.DATASETS}
    dashboards = {d.key: db.session.query(Dashboard).filter_by(uuid=uuid.UUID(d.uuid)).one()
                  for d in specs.DASHBOARDS}

    def ds_perms(keys: list[str]) -> list:
        out = []
        for key in keys:
            pv = sm.add_permission_view_menu("datasource_access", datasets[key].perm)
            out.append(pv)
        return out

    manager_keys = sorted({c.dataset for d in MANAGER_DASHBOARDS for row in specs.DASHBOARD_BY_KEY[d].rows
                           for c in (specs.CHART_BY_KEY[k] for k in row)})
    auditor = _ensure_role(sm, AUDITOR, [
        sm.add_permission_view_menu("all_datasource_access", "all_datasource_access"),
        sm.add_permission_view_menu("all_database_access", "all_database_access"),
    ])
    manager = _ensure_role(sm, MANAGER, ds_perms(manager_keys))
    gamma, sql_lab = sm.find_role("Gamma"), sm.find_role("sql_lab")

    inst_roles = {}
    for code, _name in institutions():
        inst_roles[code] = _ensure_role(sm, f"{INSTITUTION_PREFIX}{code}", ds_perms(["own_violations"]))

    # Dashboard RBAC: which roles may open which dashboard.
    for key, dash in dashboards.items():
        wanted = [auditor] + ([manager] if key in MANAGER_DASHBOARDS else list(inst_roles.values()))
        if sorted(r.name for r in dash.roles) != sorted(r.name for r in wanted):
            dash.roles = wanted

    # Row-level security: one rule per institution role on the datasets it can read.
    own = datasets["own_violations"]
    for code, role in inst_roles.items():
        name = f"rls_{code}"
        rule = db.session.query(RowLevelSecurityFilter).filter_by(name=name).one_or_none()
        clause = f"fixmedins_code = '{code}'"
        if rule is None:
            rule = RowLevelSecurityFilter(name=name, filter_type="Regular", clause=clause,
                                          group_key="fixmedins_code",
                                          description=f"本院数据 own rows of {code}")
            db.session.add(rule)
        if rule.clause != clause:
            rule.clause = clause
        if [t.id for t in rule.tables] != [own.id]:
            rule.tables = [own]
        if [r.id for r in rule.roles] != [role.id]:
            rule.roles = [role]

    # Users: a report owner (executes the reports, never logs in) and the demo logins.
    demo_password = cfg.demo_password
    reporter = _ensure_user(sm, REPORT_OWNER, [gamma, manager], None, "mfm-reports@mfm.local", "Report", "Bot")
    users = {
        "auditor": _ensure_user(sm, "auditor", [gamma, sql_lab, auditor], demo_password,
                                "auditor@mfm.local", "审核员", "Auditor"),
        "manager": _ensure_user(sm, "manager", [gamma, manager], demo_password,
                                "manager@mfm.local", "管理者", "Manager"),
    }
    wanted_hospitals = list(cfg.demo_hospitals)
    hospital_codes = [c for c in inst_roles if c.startswith("H")]
    for code in (wanted_hospitals or hospital_codes[:2]):
        if code in inst_roles:
            users[f"hosp_{code}"] = _ensure_user(sm, f"hosp_{code.lower()}", [gamma, inst_roles[code]],
                                                 demo_password, f"{code.lower()}@mfm.local", code, "Hospital")

    # Weekly snapshots of dashboards 1-3, e-mailed to the managers.
    recipients, cron, report_format = cfg.manager_emails, cfg.report_cron, cfg.report_format
    for key in MANAGER_DASHBOARDS:
        dash = dashboards[key]
        name = f"weekly_{key}"
        report = db.session.query(ReportSchedule).filter_by(name=name).one_or_none()
        fields = {"type": "Report", "description": f"每周快照 weekly snapshot: {dash.dashboard_title}",
                  "crontab": cron, "timezone": "Asia/Shanghai", "report_format": report_format,
                  "dashboard_id": dash.id, "active": True, "creation_method": "alerts_reports",
                  "working_timeout": 600, "log_retention": 90, "grace_period": 14400,
                  "force_screenshot": True, "validator_config_json": "{}"}
        if report is None:
            report = ReportSchedule(name=name, **fields)
            db.session.add(report)
        for k, v in fields.items():
            if getattr(report, k) != v:
                setattr(report, k, v)
        if [o.id for o in report.owners] != [reporter.id]:
            report.owners = [reporter]
        config = json.dumps({"target": recipients})
        current = [(r.type, r.recipient_config_json) for r in report.recipients]
        if current != [("Email", config)]:
            for r in list(report.recipients):
                db.session.delete(r)
            report.recipients = [ReportRecipients(type="Email", recipient_config_json=config)]
    db.session.commit()
    result = {"dashboards": {k: d.id for k, d in dashboards.items()},
              "institution_roles": len(inst_roles), "users": sorted(u.username for u in users.values())}
    _write_result(result)
    return result


def _write_result(result: dict[str, Any]) -> None:
    """What the demo summary prints (URL, logins): $SUPERSET_RUN_DIR/deploy.json. No passwords."""
    cfg = settings()
    logins = {"auditor": "审核员 auditor: all dashboards + SQL Lab",
              "manager": "管理者 manager: dashboards 1-3, weekly snapshots"}
    logins |= {u: f"医院 hospital {u.removeprefix('hosp_').upper()}: 本院违规 My institution only"
               for u in result["users"] if u.startswith("hosp_")}
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    cfg.deploy_result.write_text(json.dumps({
        "url": cfg.base_url, "logins": logins, "dashboards": [f"{cfg.base_url}superset/dashboard/{d.slug}/"
                                                             for d in specs.DASHBOARDS],
        "mail_dir": str(cfg.mail_dir), "admin_user": cfg.admin_user}, ensure_ascii=False, indent=2), "utf-8")


def state() -> dict[str, Any]:
    app = _app()
    with app.app_context():
        return _state()


def _state() -> dict[str, Any]:
    """A fingerprint of everything deploy writes (ids included: a re-created object is a change)."""
    from superset import db
    from superset import security_manager as sm
    from superset.connectors.sqla.models import RowLevelSecurityFilter, SqlaTable
    from superset.models.core import Database
    from superset.models.dashboard import Dashboard
    from superset.models.slice import Slice
    from superset.reports.models import ReportSchedule

    out: dict[str, Any] = {
        "databases": [(d.id, str(d.uuid), d.sqlalchemy_uri, d.extra) for d in db.session.query(Database)],
        "datasets": [(t.id, str(t.uuid), t.table_name, t.sql, sorted((c.id, c.column_name) for c in t.columns),
                      sorted((m.id, m.metric_name, m.expression) for m in t.metrics))
                     for t in db.session.query(SqlaTable).order_by(SqlaTable.id)],
        "charts": [(s.id, str(s.uuid), s.slice_name, s.params, s.query_context, s.datasource_id)
                   for s in db.session.query(Slice).order_by(Slice.id)],
        "dashboards": [(d.id, str(d.uuid), d.dashboard_title, d.position_json, d.json_metadata,
                        sorted(r.name for r in d.roles), sorted(s.id for s in d.slices))
                       for d in db.session.query(Dashboard).order_by(Dashboard.id)],
        "rls": [(r.id, r.name, r.clause, sorted(t.id for t in r.tables), sorted(x.id for x in r.roles))
                for r in db.session.query(RowLevelSecurityFilter).order_by(RowLevelSecurityFilter.id)],
        "reports": [(r.id, r.name, r.crontab, r.dashboard_id, r.report_format,
                     sorted(x.recipient_config_json for x in r.recipients), sorted(o.id for o in r.owners))
                    for r in db.session.query(ReportSchedule).order_by(ReportSchedule.id)],
        "roles": sorted((r.id, r.name, sorted(p.id for p in r.permissions)) for r in sm.get_all_roles()),
        "users": sorted((u.id, u.username, u.password, sorted(r.name for r in u.roles))
                        for u in sm.get_all_users()),
    }
    out["sha256"] = hashlib.sha256(json.dumps(out, sort_keys=True, default=str).encode()).hexdigest()
    out["ids"] = {
        "charts": {str(s.uuid): s.id for s in db.session.query(Slice)},
        "dashboards": {str(d.uuid): d.id for d in db.session.query(Dashboard)},
        "reports": {r.name: r.id for r in db.session.query(ReportSchedule)},
    }
    return out


def run_report(name: str, attempts: int = 3) -> dict[str, Any]:
    """Execute one report schedule now, in this process (what the Celery worker would do).

    A dashboard screenshot can fail transiently (chromedriver starting slowly, a page still loading
    when Selenium gives up); an operator running a report by hand would run it again, so a failed
    screenshot is retried. Earlier attempts' errors are returned under "retried"; "errors" are those
    of the last attempt."""
    app = _app()
    retried: list[str] = []
    with app.app_context():
        from superset import db
        from superset.commands.report.exceptions import ReportScheduleScreenshotFailedError
        from superset.commands.report.execute import AsyncExecuteReportScheduleCommand
        from superset.reports.models import ReportExecutionLog, ReportSchedule

        report = db.session.query(ReportSchedule).filter_by(name=name).one()
        for attempt in range(1, attempts + 1):
            started = datetime.utcnow()
            try:
                AsyncExecuteReportScheduleCommand(str(uuid.uuid4()), report.id, started).run()
                break
            except ReportScheduleScreenshotFailedError as exc:
                if attempt == attempts:
                    raise
                retried.append(f"attempt {attempt}: {str(exc).splitlines()[0]}")
                print(f"report {name}: screenshot failed (attempt {attempt} of {attempts}), retrying",
                      file=sys.stderr, flush=True)
                db.session.rollback()
                time.sleep(5)
        db.session.expire_all()
        logs = (db.session.query(ReportExecutionLog).filter(ReportExecutionLog.report_schedule_id == report.id)
                .filter(ReportExecutionLog.start_dttm >= started).all())
        return {"report": name, "states": [log.state for log in logs],
                "errors": [log.error_message for log in logs if log.error_message], "retried": retried}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    dp = sub.add_parser("deploy")
    dp.add_argument("--state", action="store_true", help="also print the fingerprint after deploying")
    sub.add_parser("state")
    sub.add_parser("ensure-metadata-db")
    rr = sub.add_parser("run-report")
    rr.add_argument("name")
    args = parser.parse_args(argv)
    if args.cmd == "deploy" and args.state:
        app = _app()
        with app.app_context():
            result = {"result": _deploy(), "state": _state()}
    elif args.cmd == "deploy":
        result = deploy()
    elif args.cmd == "ensure-metadata-db":
        result = ensure_metadata_db()
    elif args.cmd == "state":
        result = state()
    else:
        result = run_report(args.name)
    # Last line of stdout is the JSON result (Superset logs go to stderr/stdout before it).
    print(json.dumps(result, ensure_ascii=False, default=str))
    return 0 if not result.get("errors") else 1


if __name__ == "__main__":
    sys.exit(main())
