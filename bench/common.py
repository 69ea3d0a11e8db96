"""Shared helpers of the benchmarks: databases, dbt runs, machine load, memory sampling, result files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import psycopg

from warehouse.config import REPO_ROOT

RESULTS_DIR = REPO_ROOT / "bench" / "results"
BENCH_VAR = REPO_ROOT / "var" / "bench"
# helpers sharing one server each keep to their own database prefix
DB_PREFIX = os.environ.get("MFM_BENCH_DB_PREFIX", "mfm_bench")


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def load_average() -> list[float]:
    """The 1/5/15-minute load averages: other sessions share this machine, so every figure carries them."""
    return [round(x, 2) for x in os.getloadavg()]


def server_url() -> str:
    from warehouse.embedded import resolve_warehouse_url

    return resolve_warehouse_url()


def fresh_database(name: str) -> str:
    """Drop and create mfm_bench_<name> on the warehouse server; returns its URL."""
    from warehouse.testing import with_database

    base = server_url()
    db = f"{DB_PREFIX}_{name}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db}"')
    return with_database(base, db)


def database_url(name: str) -> str:
    from warehouse.testing import with_database

    return with_database(server_url(), f"{DB_PREFIX}_{name}")


def database_exists(name: str) -> bool:
    with psycopg.connect(server_url(), autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (f"{DB_PREFIX}_{name}",)).fetchone() is not None


def drop_database(name: str) -> None:
    with psycopg.connect(server_url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_PREFIX}_{name}" WITH (FORCE)')


def database_size(url: str) -> int:
    with psycopg.connect(url) as conn:
        return int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])


def pipeline_env(url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ, WAREHOUSE_URL=url, PYTHONPATH=str(REPO_ROOT), GX_ANALYTICS_ENABLED="false",
               XDG_RUNTIME_DIR=os.environ.get("XDG_RUNTIME_DIR", "/tmp"), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    env.update(extra)
    return env


def target_dir(tag: str) -> Path:
    """A private dbt target path (helpers and concurrent benchmarks never share one), under the ignored var/."""
    return BENCH_VAR / f"dbt_target_{tag}"


def run_dbt(url: str, args: Sequence[str], tag: str, check: bool = True) -> tuple[float, Path, int]:
    """`python -m pipeline.dbt_cli <args>` in a child process with a private target; (seconds, target, rc)."""
    tgt = target_dir(tag)
    cmd = [sys.executable, "-m", "pipeline.dbt_cli", *args, "--target-path", str(tgt), "--log-path", str(tgt / "logs")]
    t = time.monotonic()
    proc = subprocess.run(cmd, env=pipeline_env(url), cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    secs = time.monotonic() - t
    if proc.returncode != 0 and check:
        tail = "\n".join(proc.stdout.splitlines()[-40:])
        raise RuntimeError(f"dbt {' '.join(args)} failed (exit {proc.returncode}):\n{tail}\n{proc.stderr[-2000:]}")
    return secs, tgt, proc.returncode


def run_results(target: Path) -> list[dict[str, Any]]:
    """Per node: name, resource type, status, execution seconds and its wall window (epoch seconds)."""
    data = json.loads((target / "run_results.json").read_text())
    out = []
    for r in data["results"]:
        uid = r["unique_id"]
        window = {t["name"]: t for t in r.get("timing", [])}
        ex = window.get("execute") or {}
        out.append({
            "unique_id": uid, "name": uid.split(".")[-1] if not uid.startswith("test.") else uid.split(".")[2],
            "type": uid.split(".")[0], "status": r["status"], "seconds": round(r["execution_time"], 3),
            "started": _epoch(ex.get("started_at")), "completed": _epoch(ex.get("completed_at")),
            "path": r.get("relation_name"),
        })
    return out


def _epoch(ts: str | None) -> float | None:
    if not ts:
        return None
    from datetime import datetime

    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def layer_of(node: dict[str, Any], manifest: dict[str, Any] | None = None) -> str:
    """staging / catalogue / intermediate / rules / marts / seeds / tests, from the model's name."""
    name = node["name"]
    if node["type"] == "seed":
        return "seeds"
    if node["type"] in ("test", "unit_test"):
        return "tests"
    for prefix, layer in (("stg_", "staging"), ("dim_", "catalogue"), ("int_", "intermediate"),
                          ("rule_", "rules"), ("fct_", "marts"), ("mart_", "marts")):
        if name.startswith(prefix):
            return layer
    return "other"


def full_scan_baseline(url: str, day: str, repeat: int = 3) -> dict[str, Any]:
    """One full scan of the day's fee lines (his_feedetail + pharmacy_sales partitions): the yardstick."""
    sql = ("SELECT count(*), sum(det_item_fee_sumamt), sum(cnt), count(DISTINCT mdtrt_id) FROM ("
           " SELECT det_item_fee_sumamt, cnt, mdtrt_id FROM staging.his_feedetail WHERE business_date = %(d)s"
           " UNION ALL"
           " SELECT det_item_fee_sumamt, cnt, mdtrt_id FROM staging.pharmacy_sales WHERE business_date = %(d)s) AS f")
    times = []
    rows = 0
    with psycopg.connect(url) as conn:
        for _ in range(repeat):
            t = time.monotonic()
            rows = conn.execute(sql, {"d": day}).fetchone()[0]
            times.append(time.monotonic() - t)
    return {"sql": sql.replace("%(d)s", f"'{day}'"), "rows": int(rows), "seconds": round(min(times), 3),
            "all_seconds": [round(t, 3) for t in times], "load_average": load_average()}


@dataclass
class MemorySampler:
    """Samples RSS of a process tree (and of the warehouse backends of one database) every `interval` s.

    Samples are kept with their time so a stage's peak is the maximum inside its wall window.
    """

    root_pid: int
    db_url: str | None = None
    interval: float = 0.5
    samples: list[tuple[float, int, int]] = field(default_factory=list)  # (epoch, client RSS, db backends RSS)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> MemorySampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _backend_pids(self, conn: psycopg.Connection | None) -> list[int]:
        if conn is None:
            return []
        try:
            return [r[0] for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()]
        except psycopg.Error:
            return []

    def _run(self) -> None:
        conn = None
        if self.db_url:
            try:
                conn = psycopg.connect(self.db_url, autocommit=True)
            except psycopg.Error:
                conn = None
        try:
            root = psutil.Process(self.root_pid)
        except psutil.NoSuchProcess:
            return
        while not self._stop.is_set():
            client = 0
            try:
                for p in [root, *root.children(recursive=True)]:
                    try:
                        client += p.memory_info().rss
                    except psutil.Error:
                        pass
            except psutil.Error:
                break
            backends = 0
            for pid in self._backend_pids(conn):
                try:
                    # USS: a backend's private memory (shared_buffers would be counted once per backend in RSS)
                    backends += psutil.Process(pid).memory_full_info().uss
                except psutil.Error:
                    pass
            self.samples.append((time.time(), client, backends))
            self._stop.wait(self.interval)
        if conn is not None:
            conn.close()

    def peak(self, start: float | None = None, end: float | None = None) -> dict[str, float]:
        sel = [s for s in self.samples if (start is None or s[0] >= start - self.interval)
               and (end is None or s[0] <= end + self.interval)]
        if not sel:
            return {"client_rss_mb": 0.0, "db_backends_uss_mb": 0.0}
        return {"client_rss_mb": round(max(s[1] for s in sel) / 2**20, 1),
                "db_backends_uss_mb": round(max(s[2] for s in sel) / 2**20, 1)}


def write_result(name: str, data: dict[str, Any], markdown: str) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    data = {"benchmark": name, "finished_at": time.strftime("%Y-%m-%d %H:%M:%S"), "load_average_end": load_average(),
            **data}
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(data, indent=1, default=str, ensure_ascii=False))
    (RESULTS_DIR / f"{name}.md").write_text(markdown)
    return RESULTS_DIR / f"{name}.md"


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def copy_database(template: str, name: str) -> str:
    """mfm_bench_<name> as a file-level copy of mfm_bench_<template> (CREATE DATABASE ... TEMPLATE)."""
    from warehouse.testing import with_database

    base = server_url()
    src, dst = f"{DB_PREFIX}_{template}", f"{DB_PREFIX}_{name}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dst}" WITH (FORCE)')
        # a template must have no other sessions
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (src,))
        conn.execute(f'CREATE DATABASE "{dst}" TEMPLATE "{src}"')
    return with_database(base, dst)


def disk_free_gb() -> float:
    import shutil

    return round(shutil.disk_usage("/").free / 2**30, 1)
