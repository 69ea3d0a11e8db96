"""`dbt build` as a pipeline step: a failing error-severity test (or model) raises with the failing nodes named.

Before the daily build, `dbt source freshness` checks the load ledger
(models/staging/_sources.yml: each daily kind's last successful load in
meta.load_log): past `warn_after` it logs a warning, past `error_after` (or
with a kind never loaded) it stops the build, so suspects and exports are not
refreshed from a feed that stopped arriving.
"""

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


class SourcesStale(DbtBuildFailed):
    """A source is past its freshness `error_after` (or has never loaded): the build does not start."""


def source_freshness(warehouse_url: str | None = None, extra_args: Sequence[str] = ()) -> dict[str, list[str]]:
    """Run `dbt source freshness`; return the sources by status: pass, warn, error (one line each)."""
    args = ["source", "freshness", *extra_args]
    log.info("dbt %s", " ".join(args))
    res = run_dbt(args, warehouse_url)
    if res.exception is not None:
        raise RuntimeError(f"dbt crashed: {res.exception}") from res.exception
    out: dict[str, list[str]] = {"pass": [], "warn": [], "error": []}
    for r in getattr(res.result, "results", None) or []:
        status = str(getattr(r.status, "value", r.status))
        name = getattr(r.node, "unique_id", "?").removeprefix("source.medwatch.")
        loaded = getattr(r, "max_loaded_at", None)
        age = getattr(r, "age", None)
        line = f"{name}: last loaded {loaded:%Y-%m-%d %H:%M %Z}, {age / 3600:.0f} h ago" if loaded and age \
            else f"{name}: {(getattr(r, 'message', None) or 'never loaded').strip()[:300]}"
        # "runtime error": the ledger query failed or found no load at all
        out["pass" if status == "pass" else "warn" if status == "warn" else "error"].append(line)
    return out


def check_freshness(found: dict[str, list[str]], stop_on_error: bool | None = None) -> dict[str, int]:
    """Log warnings and errors; with stop_on_error (default: FRESHNESS_STOPS_BUILD) raise SourcesStale when a
    source is past error_after. Returns counts by status."""
    from warehouse.config import settings

    for w in found["warn"]:
        log.warning("dbt source freshness warning: %s", w)
    stop = settings().freshness_stops_build if stop_on_error is None else stop_on_error
    if found["error"] and not stop:
        for e in found["error"]:
            log.error("dbt source freshness error (FRESHNESS_STOPS_BUILD=false: the build goes on): %s", e)
    elif found["error"]:
        raise SourcesStale("dbt source freshness: stale or never loaded (past error_after; build not started):"
                           "\n  " + "\n  ".join(found["error"]))
    return {k: len(v) for k, v in found.items()}


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
