"""Crash safety and the command line (issue 3): kill -9 mid-load leaves nothing visible."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import psycopg
import pytest

from ingestion.fixtures import fee_line, settlement, write_delivery
from warehouse.config import REPO_ROOT

D1 = date(2024, 3, 1)


def q(url: str, sql: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def _cli(args: list[str], url: str, **env: str) -> subprocess.Popen:
    e = dict(os.environ, WAREHOUSE_URL=url, PYTHONPATH=str(REPO_ROOT), GX_ANALYTICS_ENABLED="false", **env)
    return subprocess.Popen([sys.executable, "-m", "ingestion", *args], env=e, cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _kill_when_paused(proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    assert proc.stderr is not None
    for line in proc.stderr:  # the hook logs before it sleeps
        if "INGEST_PAUSE_AT" in line:
            break
        assert time.monotonic() < deadline, "loader never reached the pause"
    else:
        pytest.fail(f"loader exited before the pause: rc={proc.wait()} out={proc.stdout.read()}")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def _visible(url: str) -> tuple:
    return (
        q(url, "SELECT count(*) FROM staging.his_feedetail")[0][0],
        q(url, "SELECT count(*) FROM meta.load_log")[0][0],
        q(url, "SELECT count(*) FROM meta.quarantine")[0][0],
        q(url, "SELECT count(*) FROM meta.validation_results")[0][0],
    )


def _delivery(tmp_path: Path) -> None:
    lines = [fee_line(f"F{i}") for i in range(200)] + [fee_line("F1")]  # one duplicate: quarantine too
    write_delivery(tmp_path, "daily", D1, {"his_feedetail.csv": lines})


@pytest.mark.parametrize("phase", ["after_copy", pytest.param("before_commit", marks=pytest.mark.slow)])
def test_kill_9_mid_load_leaves_nothing_visible(tmp_path: Path, db_url: str, phase: str) -> None:
    _delivery(tmp_path)
    proc = _cli(["load", "--landing", str(tmp_path), "--date", "2024-03-01"], db_url,
                INGEST_PAUSE_AT=phase, INGEST_PAUSE_SECONDS="120")
    _kill_when_paused(proc)
    assert _visible(db_url) == (0, 0, 0, 0)
    # the scratch of the dead load is still there until the next load sweeps it
    assert q(db_url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'load'")[0][0] >= 1
    from ingestion import load_folder

    (r,) = load_folder(tmp_path, "daily", D1, conn_url=db_url)
    assert r.status == "loaded" and (r.rows_loaded, r.rows_quarantined) == (200, 1)
    assert _visible(db_url)[:3] == (200, 2, 1)
    assert q(db_url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'load'") == [(0,)]


@pytest.mark.slow  # a fresh process imports Great Expectations (~10 s)
def test_cli_load_and_exit_codes(tmp_path: Path, db_url: str) -> None:
    write_delivery(tmp_path, "daily", D1, {"his_feedetail.csv": [fee_line("F1")], "setl.csv": [settlement("S1")]},
                   manifest_override={"setl.csv": {"rows": 5}})
    proc = _cli(["load", "--landing", str(tmp_path), "--pending"], db_url)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 1, err
    assert "daily/2024-03-01 his_feedetail: loaded rows=1 loaded=1 quarantined=0" in out
    assert "daily/2024-03-01 setl: rejected — setl.csv: does not match manifest.json: rows expected 5, actual 1" in out
    assert "setl.csv: 1 rows copied" not in err and "his_feedetail.csv: 1 rows copied (UTF8, sha256 ok)" in err
    proc = _cli(["load", "--landing", str(tmp_path), "--date", "2024-03-01", "--kind", "his_feedetail"], db_url)
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0 and "his_feedetail: unchanged" in out


def test_cli_help_and_usage() -> None:
    out = subprocess.run([sys.executable, "-m", "ingestion", "load", "--help"], capture_output=True, text=True,
                         cwd=REPO_ROOT, env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)))
    assert out.returncode == 0 and "--pending" in out.stdout and "--up-to" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "ingestion", "load", "--date", "2024-13-01"], capture_output=True,
                         text=True, cwd=REPO_ROOT, env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)))
    assert bad.returncode == 2 and "not a date" in bad.stderr
