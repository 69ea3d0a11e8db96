"""`dbt build` as a pipeline step: a failing error-severity test (or model) raises with the failing nodes named."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from pipeline.dbt_cli import run_dbt

log = logging.getLogger(__name__)

# Everything the reference catalogue feeds: the catalogue models, every model
# downstream of them (rules, marts) and the parents those need (`@` operator).
REFERENCE_SELECTOR = "@path:models/catalogue"
# With a partial selection, only run tests whose every parent is selected (a relationships test
# towards an unselected model would read a relation this build did not make).
PARTIAL_ARGS = ("--indirect-selection", "cautious")


class DbtBuildFailed(RuntimeError):
    """A model, seed, snapshot or error-severity test failed: what follows must not run."""


def build(select: Sequence[str] | None = None, warehouse_url: str | None = None,
          extra_args: Sequence[str] = ()) -> dict[str, Any]:
    """Run `dbt build` (models, seeds and tests, in DAG order); return counts by status."""
    args = ["build"]
    if select:
        args += ["--select", *select, *PARTIAL_ARGS]
    args += list(extra_args)
    log.info("dbt %s", " ".join(args))
    res = run_dbt(args, warehouse_url)
    if res.exception is not None:
        raise RuntimeError(f"dbt crashed: {res.exception}") from res.exception
    counts: dict[str, int] = {}
    failures: list[str] = []
    warnings: list[str] = []
    for r in (res.result or []):
        status = str(getattr(r.status, "value", r.status))
        counts[status] = counts.get(status, 0) + 1
        node = getattr(r.node, "unique_id", "?")
        if status in ("error", "fail"):
            failures.append(f"{node}: {status}: {(r.message or '').strip()[:500]}")
        elif status == "warn":
            warnings.append(f"{node}: {(r.message or '').strip()[:200]}")
    for w in warnings:
        log.warning("dbt warning %s", w)
    if failures or not res.success:
        raise DbtBuildFailed(
            f"dbt build failed ({len(failures)} node(s); dependants skipped):\n  " + "\n  ".join(failures))
    log.info("dbt build ok: %s", counts)
    return {"counts": counts, "warnings": len(warnings)}
