"""A CeleryExecutor Airflow deployment on one machine, started through the same
entry script the containers run (deploy/entrypoints/airflow.sh).

Used by tests/test_celery_scaleout.py and by `python -m deploy.cluster` (the
figures of docs/scaling.md). Every component runs in its own session
(setsid), so stopping a component stops its whole process group, children
included; everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import psycopg

from warehouse.config import REPO_ROOT

AIRFLOW_SH = REPO_ROOT / "deploy" / "entrypoints" / "airflow.sh"
TERMINAL_RUN_STATES = {"success", "failed"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sqlalchemy_url(pg_url: str) -> str:
    """postgresql://... -> postgresql+psycopg2://... (Airflow's metadata driver)."""
    u = urlparse(pg_url)
    return urlunparse(u._replace(scheme="postgresql+psycopg2"))


def run_bounded(cmd: list[str], env: Mapping[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run cmd in its own session; on timeout kill its whole process group, not only its leader."""
    proc = subprocess.Popen(cmd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _signal_group(proc, signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
        raise TimeoutError(f"{' '.join(cmd[:4])}... still running after {timeout:.0f}s: killed\n{err[-2000:]}") from None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def wait_until(what: str, check: Callable[[], Any], timeout: float, interval: float = 1.0) -> Any:
    """Poll check() until it returns something truthy; TimeoutError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


@dataclass
class Component:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path


@dataclass
class CeleryCluster:
    """Scheduler, dag-processor, api-server and N Celery workers on one metadata DB."""

    meta_url: str
    """postgresql:// URL of a fresh, dedicated metadata database (never the warehouse)."""
    workdir: Path
    dags_folder: Path
    workers: tuple[str, ...] = ("worker1", "worker2")
    worker_concurrency: int = 1
    broker_url: str = "redis://127.0.0.1:6379/11"
    extra_env: Mapping[str, str] = field(default_factory=dict)
    queue: str = field(default_factory=lambda: f"mfm_{uuid.uuid4().hex[:8]}")
    api_port: int = field(default_factory=free_port)
    # One secret for the whole cluster: the api-server verifies the tokens the scheduler signs.
    jwt_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    components: list[Component] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        meta = sqlalchemy_url(self.meta_url)
        env = dict(os.environ)
        env.update(
            {
                "AIRFLOW_HOME": str(self.workdir / "airflow"),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CORE__PARALLELISM": "8",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.api_port}/execution/",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": meta,
                "AIRFLOW__API_AUTH__JWT_SECRET": self.jwt_secret,
                "AIRFLOW__API__SECRET_KEY": self.jwt_secret,
                "AIRFLOW__CELERY__BROKER_URL": self.broker_url,
                "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + meta,
                "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
                # A private queue: other Celery users of the same Redis never see our tasks.
                "AIRFLOW__OPERATORS__DEFAULT_QUEUE": self.queue,
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                # Workers call the api-server for every task state change; on a busy
                # machine its answers exceed the 5 s default and tasks fail.
                "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
                "AIRFLOW_API_HOST": "127.0.0.1",
                "AIRFLOW_API_PORT": str(self.api_port),
                "AIRFLOW_API_WORKERS": "1",
                "AIRFLOW_WORKER_QUEUES": self.queue,
                "AIRFLOW_WORKER_CONCURRENCY": str(self.worker_concurrency),
                "AIRFLOW_WORKER_SERVE_LOGS": "false",
            }
        )
        env.update(self.extra_env)
        return env

    # --- processes -------------------------------------------------------
    def run(self, *args: str, timeout: float = 180, env: Mapping[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
        """One foreground airflow.sh command (init, health, airflow CLI ...), bounded by timeout."""
        done = run_bounded(["bash", str(AIRFLOW_SH), *args], {**self.env(), **(env or {})}, timeout)
        if done.returncode != 0:
            raise RuntimeError(f"airflow.sh {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}")
        return done

    def spawn(self, name: str, component: str, env: Mapping[str, str] | None = None) -> Component:
        log = self.workdir / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        full_env = self.env()
        full_env.update(env or {})
        with log.open("wb") as out:
            proc = subprocess.Popen(
                ["bash", str(AIRFLOW_SH), component],
                env=full_env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        comp = Component(name, proc, log)
        self.components.append(comp)
        return comp

    def start(self, timeout: float = 240) -> None:
        (self.workdir / "airflow").mkdir(parents=True, exist_ok=True)
        self.run("init", timeout=timeout)
        self.spawn("api-server", "api-server")
        self.spawn("scheduler", "scheduler")
        self.spawn("dag-processor", "dag-processor")
        for w in self.workers:
            self.spawn(w, "celery-worker", {"AIRFLOW_WORKER_NAME": w})
        wait_until("the api-server", self._api_up, timeout)
        wait_until("the Celery workers", self._workers_up, timeout)

    def _api_up(self) -> bool:
        self._check_alive()
        try:
            with socket.create_connection(("127.0.0.1", self.api_port), timeout=1):
                return True
        except OSError:
            return False

    def _workers_up(self) -> bool:
        self._check_alive()
        return all(
            "ready." in c.log.read_text(errors="replace") for c in self.components if c.name in self.workers
        )

    def _check_alive(self) -> None:
        for c in self.components:
            if c.proc.poll() is not None:
                tail = c.log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{c.name} exited with {c.proc.returncode}:\n{tail}")

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM every component's process group, SIGKILL what is left after timeout."""
        for c in self.components:
            _signal_group(c.proc, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for c in self.components:
            try:
                c.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            # The group may outlive its leader (Celery pool children): kill it whatever happened.
            _signal_group(c.proc, signal.SIGKILL)
            c.proc.wait(timeout=10)
        self.components.clear()

    # --- DAG runs ----------------------------------------------------------
    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> None:
        def parsed() -> bool:
            self._check_alive()
            return bool(self._query("select 1 from serialized_dag where dag_id = %s", dag_id))

        wait_until(f"DAG {dag_id} to be parsed", parsed, timeout, interval=2)

    def trigger(self, dag_id: str, conf: Mapping[str, Any] | None = None, logical_date: str | None = None) -> str:
        run_id = f"scaleout__{uuid.uuid4().hex[:8]}"
        args = ["airflow", "dags", "trigger", dag_id, "--run-id", run_id, "--conf", json.dumps(conf or {})]
        if logical_date:
            args += ["--logical-date", logical_date]
        self.run(*args)
        return run_id

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 600) -> str:
        def finished() -> str | None:
            self._check_alive()
            rows = self._query("select state from dag_run where dag_id = %s and run_id = %s", dag_id, run_id)
            return rows[0][0] if rows and rows[0][0] in TERMINAL_RUN_STATES else None

        return str(wait_until(f"run {run_id} of {dag_id}", finished, timeout, interval=2))

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        rows = self._query(
            "select task_id, map_index, state, hostname, start_date, end_date from task_instance"
            " where dag_id = %s and run_id = %s order by task_id, map_index",
            dag_id,
            run_id,
        )
        keys = ("task_id", "map_index", "state", "hostname", "start_date", "end_date")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def _query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        try:
            with psycopg.connect(self.meta_url, connect_timeout=5) as conn:
                return conn.execute(sql, params).fetchall()
        except psycopg.errors.UndefinedTable:
            return []

    def __enter__(self) -> CeleryCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def main() -> None:
    """Run one DAG on a local Celery cluster and print its task instances (figures for docs/scaling.md).

    The tasks use the caller's WAREHOUSE_URL and LANDING_DIR; the metadata DB is a fresh one, dropped after.
    """
    from warehouse.embedded import resolve_warehouse_url
    from warehouse.testing import create_database, drop_database

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("dag_id")
    ap.add_argument("--dags-folder", type=Path, default=REPO_ROOT / "dags")
    ap.add_argument("--workdir", type=Path, default=REPO_ROOT / "var" / "cluster")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=1)
    ap.add_argument("--conf", default="{}")
    ap.add_argument("--logical-date")
    ap.add_argument("--timeout", type=float, default=1800)
    args = ap.parse_args()

    server = resolve_warehouse_url()
    meta = create_database(server, "mfm_airflow_meta")
    cluster = CeleryCluster(
        meta_url=meta,
        workdir=args.workdir,
        dags_folder=args.dags_folder,
        workers=tuple(f"worker{i + 1}" for i in range(args.workers)),
        worker_concurrency=args.concurrency,
        # only the triggered run: no catch-up runs from the DAG's start date
        extra_env={"AIRFLOW__SCHEDULER__MAX_DAGRUNS_TO_CREATE_PER_LOOP": "0"},
    )
    try:
        with cluster:
            cluster.wait_for_dag(args.dag_id)
            t0 = time.monotonic()
            run_id = cluster.trigger(args.dag_id, json.loads(args.conf), args.logical_date)
            state = cluster.wait_for_run(args.dag_id, run_id, args.timeout)
            elapsed = time.monotonic() - t0
            for ti in cluster.task_instances(args.dag_id, run_id):
                ok = ti["end_date"] and ti["start_date"]
                dur = f"{(ti['end_date'] - ti['start_date']).total_seconds():.1f}s" if ok else "-"
                print(f"{ti['task_id']:40} {ti['map_index']:>4} {ti['state']:10} {ti['hostname'] or '-':30} {dur}")
            print(f"run {run_id}: {state} in {elapsed:.1f}s (trigger to finish)")
    finally:
        drop_database(server, meta)


if __name__ == "__main__":
    main()
