"""Foundation: settings, the embedded PostgreSQL, the contract helpers, dbt connection wiring."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from ingestion.contract import CODE_TABLES, KINDS, certno_check_digit, certno_is_valid
from pipeline.dbt_env import dbt_env
from warehouse.config import REPO_ROOT, settings
from warehouse.embedded import SERVER_SETTINGS


def test_settings_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("WAREHOUSE_URL", "VAR_DIR", "LANDING_DIR", "EXPORTS_DIR"):
        monkeypatch.delenv(var, raising=False)
    s = settings()
    assert s.warehouse_url is None
    assert s.var_dir == REPO_ROOT / "var"
    assert s.landing_dir == REPO_ROOT / "var" / "landing"
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    assert settings().embedded_dir == tmp_path / "pg"


def test_certno_check_digit_gb11643() -> None:
    # The standard's worked example: 11010519491231002X.
    assert certno_check_digit("11010519491231002") == "X"
    assert certno_is_valid("11010519491231002X")
    assert certno_is_valid("11010519491231002x")  # compared upper-cased
    assert not certno_is_valid("110105194912310021")
    assert not certno_is_valid("1101051949123100")


def test_contract_matches_spec_field_names() -> None:
    spec = (REPO_ROOT.parent / "shared" / "spec" / "extracts.md")
    if not spec.exists():
        pytest.skip("spec not laid beside the checkout")
    text = spec.read_text(encoding="utf-8")
    for kind in KINDS.values():
        assert kind.name in text
        for col in kind.columns:
            assert col in text, f"{kind.name}.{col} not in the spec"
    assert set(CODE_TABLES["med_type"]) == {"11", "13", "14", "21", "41"}


def test_dbt_env_from_urls() -> None:
    env = dbt_env("postgresql://root@127.0.0.1:5433/mfm")
    assert (env["DBT_PG_HOST"], env["DBT_PG_PORT"], env["DBT_PG_USER"], env["DBT_PG_DBNAME"]) == (
        "127.0.0.1", "5433", "root", "mfm")
    env = dbt_env("postgresql://postgres@/warehouse?host=/srv/pg")
    assert env["DBT_PG_HOST"] == "/srv/pg" and env["DBT_PG_DBNAME"] == "warehouse"


def _embedded(command: str, var_dir: Path) -> subprocess.CompletedProcess[str]:
    """Run `python -m warehouse.embedded <command>`; a failure shows its stderr and the server log."""
    env = {"VAR_DIR": str(var_dir), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT),
           "XDG_RUNTIME_DIR": "/tmp"}
    done = subprocess.run([sys.executable, "-m", "warehouse.embedded", command], env=env,
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        log = var_dir / "pg" / "log"
        pytest.fail(f"warehouse.embedded {command} exited {done.returncode}\n"
                    f"stdout: {done.stdout}\nstderr: {done.stderr}\n"
                    f"server log: {log.read_text(errors='replace')[-4000:] if log.exists() else '(none)'}")
    return done


def test_embedded_postgres_starts_twice_and_stops(tmp_path: Path) -> None:
    """Start, start again (finds the running server), connect, stop, stop again."""
    url = _embedded("start", tmp_path).stdout.strip()
    try:
        assert _embedded("start", tmp_path).stdout.strip() == url
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("warehouse",)
            # the warehouse settings are in force (shared_buffers needed the restart)
            for name, value in SERVER_SETTINGS.items():
                assert conn.execute(f"SHOW {name}").fetchone() == (value,), name
    finally:
        stopped = _embedded("stop", tmp_path)
    assert "stopped" in stopped.stderr
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=3)
    assert "not running" in _embedded("stop", tmp_path).stderr


def test_embedded_finds_useradd_on_a_short_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """As root, pgserver creates its system user with useradd (/usr/sbin): a PATH without sbin must still work."""
    import os
    import shutil

    from warehouse.embedded import _ensure_sbin_on_path

    if os.geteuid() != 0:
        pytest.skip("pgserver only creates a system user when run as root")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert shutil.which("useradd") is None
    _ensure_sbin_on_path()
    assert shutil.which("useradd") is not None
    assert os.environ["PATH"].startswith("/usr/bin:/bin")


def test_embedded_start_waits_out_a_slow_first_start(tmp_path: Path) -> None:
    """A postmaster still starting when pg_ctl gave up is waited for, not reported as a failure."""
    from warehouse.embedded import _wait_until_ready

    datadir = tmp_path / "pg"
    datadir.mkdir()
    pid_file = datadir / "postmaster.pid"
    pid_file.write_text("123\n" + str(datadir) + "\n0\n5432\n/tmp\n\n0 0\nstarting\n")
    started = time.monotonic()
    _wait_until_ready(datadir, timeout_s=1.0)
    assert time.monotonic() - started >= 1.0  # still 'starting': waited the whole timeout
    pid_file.write_text(pid_file.read_text().replace("starting", "ready"))
    started = time.monotonic()
    _wait_until_ready(datadir, timeout_s=30.0)
    assert time.monotonic() - started < 5.0


def test_embedded_warehouse_loads_and_validates_a_delivery(tmp_path: Path) -> None:
    """The demo's warehouse is the embedded server on a Unix socket: the loader and GX must both reach it."""
    from datetime import date

    from ingestion.fixtures import fee_line, settlement, visit, write_delivery
    from ingestion.loader import load_folder
    from warehouse import embedded

    day = date(2024, 3, 1)
    write_delivery(tmp_path / "landing", "daily", day, {
        "his_mdtrt.csv": [visit("M1")],
        "his_feedetail.csv": [fee_line("F1", "M1"), fee_line("F2", "M1")],
        "setl.csv": [settlement("S1", "M1")],
    })
    url = embedded.start(tmp_path / "pg")
    try:
        assert "host=" in url and "@/" in url  # socket URL, no TCP host
        results = load_folder(tmp_path / "landing", "daily", day, conn_url=url)
        assert {r.kind: r.status for r in results} == {"his_mdtrt": "loaded", "his_feedetail": "loaded",
                                                       "setl": "loaded"}, [r.error for r in results]
        with psycopg.connect(url) as conn:
            validated = conn.execute("SELECT count(DISTINCT kind) FROM meta.validation_results").fetchone()[0]
        assert validated == 3
    finally:
        embedded.stop(tmp_path / "pg")
