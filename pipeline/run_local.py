"""`make pipeline`: run the daily_monitoring DAG once, locally, with `airflow dags test`.

    python -m pipeline.run_local [--date YYYY-MM-DD] [--dag daily_monitoring]

One run for the given business date (default: the latest complete daily
delivery in LANDING_DIR) loads every pending delivery up to that date and
builds every model, so two months of deliveries take one run, not sixty.
Airflow's home is AIRFLOW_HOME (default var/airflow) with its metadata in
SQLite there, never in the warehouse; the warehouse is WAREHOUSE_URL or the
embedded server. Exit status is Airflow's: 1 when a task failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from pipeline.airflow_env import airflow_env
from warehouse.config import REPO_ROOT, settings


def latest_complete_delivery(landing: Path) -> date | None:
    """Newest daily folder with a manifest.json (the mark of a complete delivery)."""
    base = landing / "daily"
    dates = []
    for p in base.iterdir() if base.is_dir() else []:
        try:
            d = date.fromisoformat(p.name)
        except ValueError:
            continue
        if (p / "manifest.json").is_file():
            dates.append(d)
    return max(dates) if dates else None


def _airflow(args: Sequence[str], env: dict[str, str], log_file: Path | None = None) -> int:
    exe = shutil.which("airflow", path=str(Path(sys.executable).parent)) or "airflow"
    cmd = [exe, *args]
    if log_file is None:
        return subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True, check=False).returncode
    with log_file.open("w") as fh:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:  # tee: the operator watches, the file keeps it
            sys.stdout.write(line)
            fh.write(line)
        return proc.wait()


def prepare_airflow(env: dict[str, str]) -> None:
    """Metadata DB migrated and the pools the DAGs use; skipped when this home is already prepared
    for the same Airflow version, metadata DB and pool sizes (each airflow CLI call costs seconds)."""
    import airflow

    home = Path(env["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    s = settings()
    stamp = home / ".medwatch_prepared"
    want = json.dumps({"airflow": airflow.__version__, "db": env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"),
                       "load_slots": s.load_pool_slots})
    db_file = home / "airflow.db"
    if stamp.is_file() and stamp.read_text() == want and (db_file.exists() or "sqlite" not in want):
        return
    for args in (["db", "migrate"],):
        rc = _airflow(args, env)
        if rc != 0:
            raise SystemExit(f"airflow {' '.join(args)} failed (exit {rc}); AIRFLOW_HOME={home}")
    pools = {
        "warehouse_loads": {"slots": s.load_pool_slots, "description": "concurrent delivery loads (COPY)",
                            "include_deferred": False},
        "warehouse_dbt": {"slots": 1, "description": "one dbt build at a time", "include_deferred": False},
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir=home, delete=False) as fh:
        json.dump(pools, fh)
    try:
        rc = _airflow(["pools", "import", fh.name], env)
    finally:
        os.unlink(fh.name)
    if rc != 0:
        raise SystemExit(f"airflow pools import failed (exit {rc})")
    stamp.write_text(want)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.run_local", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--date", type=date.fromisoformat, help="business date (default: latest complete delivery)")
    parser.add_argument("--dag", default="daily_monitoring", choices=["daily_monitoring", "reference_refresh"])
    args = parser.parse_args(argv)

    s = settings()
    business_date = args.date or latest_complete_delivery(s.landing_dir)
    if business_date is None:
        print(f"no complete delivery under {s.landing_dir}/daily (run `make generate` first)", file=sys.stderr)
        return 2
    from warehouse.embedded import resolve_warehouse_url

    env = airflow_env(resolve_warehouse_url())
    t0 = time.monotonic()
    prepare_airflow(env)
    log_file = Path(env["AIRFLOW_HOME"]) / f"run_local_{args.dag}_{business_date}.log"
    print(f"airflow dags test {args.dag} {business_date}  (landing {s.landing_dir}, "
          f"AIRFLOW_HOME {env['AIRFLOW_HOME']}, log {log_file})", flush=True)
    rc = _airflow(["dags", "test", args.dag, business_date.isoformat()], env, log_file)
    verdict = "succeeded" if rc == 0 else f"FAILED (exit {rc}); see {log_file} and docs/airflow.md"
    print(f"{args.dag} {business_date}: {verdict} in {time.monotonic() - t0:.0f}s", flush=True)
    return rc


if __name__ == "__main__":
    os.chdir(REPO_ROOT)
    raise SystemExit(main())
