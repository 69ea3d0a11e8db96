"""Superset end to end: a real server on PostgreSQL metadata, the assets deployed twice, chart data
checked against SQL on the marts, per-hospital access, headless-Chromium screenshots and one
report e-mailed to a local SMTP sink.

Superset lives in its own virtualenv (.venv-superset, built by `make superset-venv` when missing);
this module drives it through subprocesses and HTTP, so it runs under the main .venv.
Screenshots are kept under $SUPERSET_SCREENSHOT_DIR (default var/artifacts/screenshots/; CI uploads them).
SUPERSET_TEST_WAREHOUSE_URL names an already built warehouse (security applied) to skip building one.
"""

from __future__ import annotations

import csv
import email
import email.policy
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from superset_assets import build, specs
from superset_assets.settings import BI_ROLE
from superset_assets.settings import settings as superset_settings
from warehouse.testing import create_database, drop_database

pytestmark = [pytest.mark.superset, pytest.mark.slow]

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / ".venv-superset"
SPY = VENV / "bin" / "python"
ARTIFACTS = superset_settings().screenshot_dir
PASSWORD = "demo-test-pw"

# The figures each dataset metric stands for, written here independently of the asset specs.
_FUND_SQL = {
    "visits": "SUM(visits)",
    "persons": "SUM(persons)",
    "medfee": "SUM(medfee_amount)",
    "fund": "SUM(fund_amount)",
    "fee_per_visit": "SUM(medfee_amount)::float / NULLIF(SUM(visits), 0)",
    "drug_share": "SUM(drug_amount)::float / NULLIF(SUM(medfee_amount), 0)",
}
_VIO_SQL = {"suspects": "COUNT(*)", "suspect_amount": "SUM(amount)"}
METRIC_SQL = {
    **{(ds, m): e for ds in ("fund_overview", "institution_monthly", "insutype_monthly") for m, e in _FUND_SQL.items()},
    ("rankings", "medfee"): "SUM(medfee_amount)",
    ("rankings", "fund"): "SUM(fund_amount)",
    ("rankings", "suspect"): "SUM(suspect_amount)",
    **{(ds, m): e for ds in ("violations", "own_violations") for m, e in _VIO_SQL.items()},
}
# Datasets over pre-aggregated marts must answer as the detail rows they count: their charts'
# figures are computed here from the detail dataset.
EXPECTED_FROM = {"violation_counts": "violations"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(args: list[str], env: dict[str, str], timeout: float = 600) -> str:
    proc = subprocess.run(args, env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def _last_json(out: str) -> Any:
    return json.loads(out.strip().splitlines()[-1])


def _days_with_plants(landing: Path, n: int) -> list[str]:
    """The n daily folders whose visits carry the most distinct planted (rule, hospital) suspects."""
    with open(landing / "ground_truth" / "violations.csv", encoding="utf-8") as fh:
        planted = {r["mdtrt_id"]: (r["rule_code"], r["fixmedins_code"]) for r in csv.DictReader(fh)
                   if r["mdtrt_id"] and r["fixmedins_code"].startswith("H")}
    score: dict[str, set[tuple[str, str]]] = {}
    for folder in sorted((landing / "daily").iterdir()):
        found = set()
        for f in folder.glob("his_mdtrt*.csv"):
            raw = f.read_bytes()
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:  # hospitals also send GB18030
                text = raw.decode("gb18030")
            found |= {planted[r["mdtrt_id"]] for r in csv.DictReader(io.StringIO(text)) if r["mdtrt_id"] in planted}
        score[folder.name] = found
    best = sorted(score, key=lambda d: (-len(score[d]), d))[:n]
    return sorted(best)


def _build_marts(url: str, tmp: Path) -> None:
    """A small real warehouse: synthetic deliveries -> ingestion -> dbt build -> database security.

    SUPERSET_TEST_WAREHOUSE_URL names an already built warehouse instead (e.g. the demo's), to
    iterate quickly; the test then only reads it."""
    env = {**os.environ, "WAREHOUSE_URL": url, "PYTHONPATH": str(REPO), "LANDING_DIR": str(tmp / "landing"),
           "VAR_DIR": str(tmp / "var"), "GX_ANALYTICS_ENABLED": "false",
           # one kind at a time: this fixture only needs the data, and parallel kind loads into a
           # fresh database have deadlocked on meta.load_log (reported; ingestion's own tests cover it)
           "LOAD_POOL_SLOTS": "1"}
    py = str(REPO / ".venv" / "bin" / "python")
    landing = tmp / "landing"
    # The demo generator needs >= 28 days and plants about one suspect a day; loading all of them
    # takes many minutes on 2 cores, so the fixture loads the first reference snapshot, the three
    # days that carry the most planted hospital suspects (ground truth) and the first day of the
    # next month (so month-on-month figures exist).
    _run([py, "-m", "synthetic", "generate", "--out", str(landing), "--start", "2024-01-01", "--days", "33",
          "--seed", "7", "--encoding", "utf8", "--quiet"], env)
    first_ref = min(p.name for p in (landing / "reference").iterdir())
    _run([py, "-m", "ingestion", "load", "--landing", str(landing), "--date", first_ref, "--reference"], env)
    for day in _days_with_plants(landing, 3) + ["2024-02-01"]:
        _run([py, "-m", "ingestion", "load", "--landing", str(landing), "--date", day], env)
    # dbt's data and unit tests have their own suites; here only the relations matter.
    _run([py, "-m", "pipeline.dbt_cli", "build", "--exclude-resource-type", "test", "--exclude-resource-type",
          "unit_test", "--target-path", f"target_superset_{os.getpid()}",
          "--log-path", f"target_superset_{os.getpid()}/logs"], env, timeout=1200)
    _run([py, "-m", "warehouse.security", "apply"], env)
    shutil.rmtree(REPO / "dbt_project" / f"target_superset_{os.getpid()}", ignore_errors=True)


@pytest.fixture(scope="module")
def stack(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    t0 = time.monotonic()
    if not SPY.exists():
        _run(["make", "-f", "superset_assets/superset.mk", "superset-venv"], dict(os.environ), timeout=1200)
    tmp = tmp_path_factory.mktemp("superset")
    given = os.environ.get("SUPERSET_TEST_WAREHOUSE_URL")
    wh_url = given or create_database(server_url, "mfm_superset_wh")
    meta_url = create_database(server_url, "superset_meta_test")
    procs: list[subprocess.Popen] = []
    log = open(tmp / "web.log", "w")  # noqa: SIM115 (closed in finally)
    try:
        source = "given" if given else "pipeline"
        port, smtp_port = _free_port(), _free_port()
        mail_dir = tmp / "mail"
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "SUPERSET_CONFIG_PATH": str(REPO / "superset_assets" / "superset_config.py"),
            "SUPERSET_META_URL": meta_url,
            "SUPERSET_SECRET_KEY": "test-secret-" + os.urandom(8).hex(),
            # Superset's connection is the default one: WAREHOUSE_URL as the read-only BI role.
            "WAREHOUSE_URL": wh_url,
            "SUPERSET_BASE_URL": f"http://127.0.0.1:{port}/",
            "SUPERSET_DEMO_PASSWORD": PASSWORD,
            "SUPERSET_ADMIN_PASSWORD": PASSWORD,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp_port),
            "SUPERSET_REDIS_DB": "5",
            "FLASK_APP": "superset",
            "VAR_DIR": str(tmp / "var"),
        }
        env.pop("SUPERSET_WAREHOUSE_URL", None)
        procs.append(subprocess.Popen(
            [str(SPY), "-m", "superset_assets.smtp_sink", "--port", str(smtp_port), "--dir", str(mail_dir)],
            env=env, cwd=REPO, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        # Metadata migration and the server's boot need no warehouse: they run while it is built,
        # and the deploys while the server boots.
        bin_dir, migrated = VENV / "bin", tmp / "metadata-migrated"
        server = (f"{bin_dir}/superset db upgrade && {bin_dir}/superset init && touch {migrated} && "
                  f"exec {bin_dir}/gunicorn -w 2 -k gthread --threads 4 --timeout 180 --graceful-timeout 5 "
                  f"-b 127.0.0.1:{port} 'superset.app:create_app()'")
        procs.append(subprocess.Popen(["bash", "-c", server], env=env, cwd=REPO, start_new_session=True,
                                      stdout=log, stderr=subprocess.STDOUT))
        if not given:
            _build_marts(wh_url, tmp)
        t_marts = time.monotonic()
        with psycopg.connect(wh_url) as conn:
            # demo logins for the two hospitals with the most suspects (the access test needs rows)
            busiest = [r[0] for r in conn.execute(
                "SELECT fixmedins_code FROM marts.mart_hospital_violations WHERE fixmedins_code LIKE 'H%' "
                "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 2")]
            bi = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s AND rolcanlogin", (BI_ROLE,)).fetchone()
        assert bi, f"{BI_ROLE} missing: run python -m warehouse.security apply on the warehouse"
        env["SUPERSET_DEMO_HOSPITALS"] = ",".join(busiest)
        _wait_for(lambda: migrated.exists(), procs[-1], tmp / "web.log", "metadata migration")
        t_meta = time.monotonic()
        # Deploy twice: the second run must change nothing.
        first = _last_json(_run([str(SPY), "-m", "superset_assets.deploy", "deploy", "--state"], env))
        second = _last_json(_run([str(SPY), "-m", "superset_assets.deploy", "deploy", "--state"], env))
        base = f"http://127.0.0.1:{port}"
        _wait_for(lambda: _healthy(base), procs[-1], tmp / "web.log", "Superset start")
        timings = {"marts_s": round(t_marts - t0, 1), "metadata_wait_s": round(t_meta - t_marts, 1),
                   "ready_s": round(time.monotonic() - t0, 1)}
        print("superset stack timings", timings, "marts from", source, file=sys.stderr)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "stack-timings.json").write_text(json.dumps(timings))
        yield {"base": base, "env": env, "wh_url": wh_url, "first": first, "second": second, "mail_dir": mail_dir,
               "source": source, "timings": timings}
    finally:
        log.close()
        for p in reversed(procs):
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(timeout=30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if not os.environ.get("KEEP_TEST_DBS"):
            drop_database(server_url, meta_url)
            if not given:
                drop_database(server_url, wh_url)


def _healthy(base: str) -> bool:
    try:
        return requests.get(f"{base}/health", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def _wait_for(ready: Callable[[], bool], server: subprocess.Popen, log: Path, what: str,
              timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ready():
            return
        if server.poll() is not None:
            pytest.fail(f"{what}: Superset exited with {server.returncode}:\n" + log.read_text()[-3000:])
        time.sleep(1)
    pytest.fail(f"{what} timed out:\n" + log.read_text()[-3000:])


class Client:
    def __init__(self, base: str, user: str, password: str) -> None:
        self.base = base
        self.s = requests.Session()
        r = self.s.post(f"{base}/api/v1/security/login",
                        json={"username": user, "password": password, "provider": "db", "refresh": False})
        r.raise_for_status()
        self.s.headers["Authorization"] = "Bearer " + r.json()["access_token"]
        token = self.s.get(f"{base}/api/v1/security/csrf_token/").json()["result"]
        self.s.headers.update({"X-CSRFToken": token, "Referer": base})

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.s.get(self.base + path, timeout=120, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.s.post(self.base + path, timeout=120, **kw)


def _norm(value: Any, temporal: bool = False) -> Any:
    if value is None:
        return None
    if temporal and isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, UTC).date().isoformat()
    if isinstance(value, datetime | date):
        return value.isoformat()[:10]
    if isinstance(value, Decimal | float | int) and not isinstance(value, bool):
        return round(float(value), 4)
    return str(value)


def expected_rows(conn: psycopg.Connection, chart: specs.Chart, where_extra: str = "") -> list[tuple]:
    # The dataset's SQL only renames mart columns (specs.py); the figures are computed here.
    source = EXPECTED_FROM.get(chart.dataset, chart.dataset)
    table = f"({specs.DATASET_BY_KEY[source].sql}) AS t"
    conds = [c for c in (chart.where, where_extra) if c]
    where = f"WHERE {' AND '.join(f'({c})' for c in conds)}" if conds else ""
    if chart.viz == "raw":
        cols = ", ".join(chart.columns)
        rows = conn.execute(f"SELECT {cols} FROM {table} {where}").fetchall()
    else:
        group = (["date_trunc('month', month)::date"] if chart.viz in ("big_number", "line", "bar") else [])
        group += list(chart.groupby)
        metrics = [METRIC_SQL[(source, m)] for m in chart.metrics]
        select = ", ".join(group + metrics)
        group_by = f"GROUP BY {', '.join(str(i + 1) for i in range(len(group)))}" if group else ""
        rows = conn.execute(f"SELECT {select} FROM {table} {where} {group_by}").fetchall()
    return [tuple(_norm(v) for v in row) for row in rows]


def chart_rows(client: Client, chart_id: int, chart: specs.Chart) -> list[tuple]:
    r = client.get(f"/api/v1/chart/{chart_id}/data/", params={"force": "true"})
    assert r.status_code == 200, (chart.key, r.status_code, r.text[:500])
    result = r.json()["result"][0]
    if chart.viz == "raw":
        cols = list(chart.columns)
    else:
        cols = (["month"] if chart.viz in ("big_number", "line", "bar") else []) + list(chart.groupby)
        cols += list(chart.metrics)
    temporal = {c.name for c in specs.DATASET_BY_KEY[chart.dataset].columns if c.is_dttm}
    return [tuple(_norm(row[c], c in temporal) for c in cols) for row in result["data"]]


def _compare(chart: specs.Chart, got: list[tuple], want: list[tuple]) -> None:
    limit = 100 if chart.viz == "pie" else chart.row_limit
    key = lambda row: tuple((v is None, str(v)) for v in row)  # noqa: E731
    if len(want) <= limit:
        assert sorted(got, key=key) == sorted(want, key=key), chart.key
    else:  # top-N: the same number of rows, each one of the expected rows
        assert len(got) == limit and all(row in want for row in got), chart.key


def test_assets_yaml_is_built_from_specs() -> None:
    assert build.stale_files() == [], "run: python -m superset_assets.build"


def test_deploy_twice_changes_nothing(stack: dict[str, Any]) -> None:
    first, second = stack["first"]["state"], stack["second"]["state"]
    assert first["sha256"] == second["sha256"]
    assert len(first["ids"]["charts"]) == len(specs.CHARTS)
    assert len(first["ids"]["dashboards"]) == len(specs.DASHBOARDS)
    assert sorted(first["ids"]["reports"]) == ["weekly_fund_overview", "weekly_rankings", "weekly_violations"]


def _ids(stack: dict[str, Any]) -> dict[str, int]:
    return {c.key: stack["first"]["state"]["ids"]["charts"][c.uuid] for c in specs.CHARTS}


def test_every_chart_equals_sql_on_the_marts(stack: dict[str, Any]) -> None:
    auditor = Client(stack["base"], "auditor", PASSWORD)
    ids = _ids(stack)
    with psycopg.connect(stack["wh_url"]) as conn:
        for chart in specs.CHARTS:
            want = expected_rows(conn, chart)
            assert want, f"{chart.key}: the marts give no rows; the test would prove nothing"
            _compare(chart, chart_rows(auditor, ids[chart.key], chart), want)


def _hospital(stack: dict[str, Any]) -> tuple[str, str]:
    users = [u for u in stack["first"]["result"]["users"] if u.startswith("hosp_")]
    assert users, "deploy created no hospital user"
    return users[0], users[0].removeprefix("hosp_").upper()


def test_hospital_sees_only_its_rows_in_data_and_downloads(stack: dict[str, Any]) -> None:
    user, code = _hospital(stack)
    hosp = Client(stack["base"], user, PASSWORD)
    ids = _ids(stack)
    with psycopg.connect(stack["wh_url"]) as conn:
        total = conn.execute("SELECT count(*) FROM marts.mart_hospital_violations").fetchone()[0]
        own = conn.execute("SELECT count(*) FROM marts.mart_hospital_violations WHERE fixmedins_code = %s",
                           (code,)).fetchone()[0]
        assert 0 < own < total, "need rows of this and other institutions"
        own_visits = {r[0] or "" for r in conn.execute(
            "SELECT mdtrt_id FROM marts.mart_hospital_violations WHERE fixmedins_code = %s", (code,))}
        for key in ("own_by_rule", "own_detail"):
            chart = specs.CHART_BY_KEY[key]
            _compare(chart, chart_rows(hosp, ids[key], chart),
                     expected_rows(conn, chart, f"fixmedins_code = '{code}'"))
    detail = ids["own_detail"]
    r = hosp.get(f"/api/v1/chart/{detail}/data/", params={"format": "csv", "type": "full"})
    assert r.status_code == 200, r.text[:300]
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert len(rows) == own
    visit_col = next(k for k in rows[0] if "mdtrt_id" in k or "Visit id" in k)
    assert {row[visit_col] for row in rows} <= own_visits
    x = hosp.get(f"/api/v1/chart/{detail}/data/", params={"format": "xlsx", "type": "full"})
    assert x.status_code == 200 and x.content[:2] == b"PK", x.text[:300]
    # The auditors' charts are not this user's data.
    for key in ("kpi_fee", "vio_detail", "rank_institution"):
        assert hosp.get(f"/api/v1/chart/{ids[key]}/data/").status_code in (403, 404), key


def test_hospital_cannot_open_other_dashboards_or_sql_lab(stack: dict[str, Any]) -> None:
    user, _ = _hospital(stack)
    hosp = Client(stack["base"], user, PASSWORD)
    listed = {d["slug"] for d in hosp.get("/api/v1/dashboard/").json()["result"]}
    assert listed == {"my-institution"}
    for slug in ("fund-overview", "rankings", "violations"):
        assert hosp.get(f"/api/v1/dashboard/{slug}").status_code in (403, 404), slug
        assert hosp.get(f"/api/v1/dashboard/{slug}/charts").status_code in (403, 404), slug
    assert hosp.get("/api/v1/dashboard/my-institution").status_code == 200
    r = hosp.post("/api/v1/sqllab/execute/", json={"database_id": 1, "sql": "SELECT 1", "runAsync": False})
    assert r.status_code in (401, 403, 404), r.text[:300]
    page = hosp.get("/sqllab/", allow_redirects=False)
    assert page.status_code in (302, 401, 403, 404), page.status_code
    # and the manager: dashboards 1-3 only
    manager = Client(stack["base"], "manager", PASSWORD)
    assert {d["slug"] for d in manager.get("/api/v1/dashboard/").json()["result"]} == {
        "fund-overview", "rankings", "violations"}


def _screens(stack: dict[str, Any], user: str, slugs: list[str]) -> list[dict[str, Any]]:
    out = _run([str(SPY), "-m", "superset_assets.screenshots", "--base-url", stack["base"], "--user", user,
                "--password", PASSWORD, "--out", str(ARTIFACTS), "--timeout", "120", *slugs], stack["env"])
    return _last_json(out)


def test_screenshots_show_rendered_dashboards(stack: dict[str, Any]) -> None:
    expected = {d.slug: sum(len(r) for r in d.rows) for d in specs.DASHBOARDS}
    user, _ = _hospital(stack)
    results = _screens(stack, "auditor", list(expected)) + _screens(stack, user, ["my-institution"])
    for shot in results:
        assert Path(shot["png"]).exists()
        assert shot["errors"] == [], shot
        assert shot["charts"] == expected[shot["slug"]], shot
        assert shot["distinct_colors"] > 30 and shot["stddev"] > 5, f"blank screenshot: {shot}"


def test_weekly_report_emails_a_snapshot(stack: dict[str, Any]) -> None:
    out = _run([str(SPY), "-m", "superset_assets.deploy", "run-report", "weekly_fund_overview"], stack["env"])
    result = _last_json(out)
    assert result["errors"] == [], result
    deadline = time.monotonic() + 30
    mails: list[Path] = []
    while time.monotonic() < deadline and not mails:
        mails = sorted(stack["mail_dir"].glob("*.eml"))
        time.sleep(0.5)
    assert mails, "no mail reached the SMTP sink"
    msg = email.message_from_bytes(mails[-1].read_bytes(), policy=email.policy.default)
    assert "manager@mfm.local" in msg["To"]
    images = [p for p in msg.walk() if p.get_content_type() in ("image/png", "application/pdf")]
    assert images and len(images[0].get_payload(decode=True)) > 10_000
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "report-weekly_fund_overview.png").write_bytes(images[0].get_payload(decode=True))


def test_superset_queries_as_the_read_only_role_and_no_password_is_in_assets(stack: dict[str, Any]) -> None:
    text = (build.ASSETS_DIR / "databases" / "warehouse.yaml").read_text("utf-8")
    assert build.URI_PLACEHOLDER in text and ":" not in build.URI_PLACEHOLDER.split("@")[0].split("//")[1]
    [(_, _, uri, _)] = stack["first"]["state"]["databases"]
    assert uri.startswith(f"postgresql+psycopg2://{BI_ROLE}@"), uri


def _session_setting(client: Client, dataset_id: int) -> list[Any]:
    """What PostgreSQL's medwatch.fixmedins_code is in the session Superset queries with for this user."""
    body = {"datasource": {"id": dataset_id, "type": "table"}, "result_format": "json", "result_type": "full",
            "queries": [{"columns": [{"expressionType": "SQL", "label": "pg_codes",
                                      "sqlExpression": "current_setting('medwatch.fixmedins_code', true)"}],
                         "metrics": [], "filters": [], "row_limit": 5, "orderby": []}]}
    r = client.post("/api/v1/chart/data", json=body)
    assert r.status_code == 200, r.text[:500]
    return [row["pg_codes"] for row in r.json()["result"][0]["data"]]


def test_hospital_queries_are_also_restricted_by_postgresql(stack: dict[str, Any]) -> None:
    # The session setting is what security.visible_codes() narrows the marts' row-level security by.
    user, code = _hospital(stack)
    own = specs.DATASET_BY_KEY["own_violations"].uuid
    [dataset_id] = [d[0] for d in stack["first"]["state"]["datasets"] if d[1] == own]
    assert set(_session_setting(Client(stack["base"], user, PASSWORD), dataset_id)) == {code}
    assert set(_session_setting(Client(stack["base"], "auditor", PASSWORD), dataset_id)) <= {None, ""}
