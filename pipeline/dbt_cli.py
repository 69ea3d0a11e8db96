"""Run dbt against the configured warehouse: `python -m pipeline.dbt_cli build --select ...`.

Sets the DBT_PG_* connection from WAREHOUSE_URL (or the embedded server) and
runs dbt in-process with dbtRunner, so DAG tasks, tests and humans share one
entry point.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from pipeline.dbt_env import DBT_PROJECT_DIR, apply_dbt_env
from warehouse.embedded import resolve_warehouse_url


def run_dbt(args: Sequence[str], warehouse_url: str | None = None):
    """Invoke dbt with args; returns dbt's dbtRunnerResult. Raises nothing: check .success."""
    from dbt.cli.main import dbtRunner

    apply_dbt_env(warehouse_url or resolve_warehouse_url())
    args = list(args)
    if "--project-dir" not in args:
        args += ["--project-dir", str(DBT_PROJECT_DIR)]
    if "--profiles-dir" not in args:
        args += ["--profiles-dir", str(DBT_PROJECT_DIR)]
    return dbtRunner().invoke(args)


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    res = run_dbt(list(argv if argv is not None else sys.argv[1:]))
    return 0 if res.success else 1


if __name__ == "__main__":
    raise SystemExit(main())
