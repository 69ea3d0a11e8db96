"""Discover and load deliveries as small JSON-able items (the XCom payload of the mapped load tasks).

An item is {"section": "daily"|"reference", "date": "YYYY-MM-DD", "kind": "<kind>",
"discovered_at": ISO timestamp}: one kind of one delivery folder, the unit ingestion
loads atomically; discovered_at lets the run summary tell this run's load attempts
from older ones in the ledger.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg

from pipeline.db import relation_exists, warehouse_url

log = logging.getLogger(__name__)


class DeliveryRejected(RuntimeError):
    """The delivery cannot load as delivered (manifest mismatch, missing column, critical expectation)."""


def item_label(item: dict[str, Any]) -> str:
    return f"{item['section']}/{item['date']}/{item['kind']}"


def discover_pending(landing: Path, up_to: date, url: str | None = None) -> dict[str, list[dict[str, str]]]:
    """Complete deliveries up to `up_to` never loaded or changed since: reference and daily lists."""
    from ingestion.delivery import discover

    refs = discover(Path(landing), up_to=up_to, pending_only=True, conn_url=warehouse_url(url))
    out: dict[str, list[dict[str, str]]] = {"reference": [], "daily": []}
    now = datetime.now(UTC).isoformat()
    for r in refs:
        out[r.section].append({"section": r.section, "date": r.business_date.isoformat(), "kind": r.kind,
                               "discovered_at": now})
    log.info("pending up to %s: %d reference, %d daily kind-deliveries", up_to,
             len(out["reference"]), len(out["daily"]))
    return out


def _find_ref(landing: Path, item: dict[str, Any]):
    from ingestion.delivery import folder_refs

    for r in folder_refs(Path(landing), item["section"], date.fromisoformat(item["date"])):
        if r.kind == item["kind"]:
            return r
    raise DeliveryRejected(f"{item_label(item)}: the folder's manifest no longer lists this kind")


def load_item(landing: Path, item: dict[str, Any], url: str | None = None) -> dict[str, Any]:
    """Load one kind of one delivery; raise DeliveryRejected with the loader's message when it is refused."""
    import ingestion

    ref = _find_ref(landing, item)
    result = ingestion.load_kind(ref, conn_url=warehouse_url(url))
    out = {**item, **_result_fields(result)}
    if out["status"] == "rejected":  # the data says no: retrying the same files cannot help
        raise DeliveryRejected(f"{item_label(item)} rejected, nothing of it loaded: {out.get('error')}")
    if out["status"] not in ("loaded", "unchanged"):  # e.g. 'failed': an unexpected error, worth a retry
        raise RuntimeError(f"{item_label(item)} {out['status']}: {out.get('error') or 'no reason given'}")
    log.info("%s: %s, %s rows loaded, %s quarantined", item_label(item), out["status"],
             out["rows_loaded"], out["rows_quarantined"])
    return out


def _result_fields(result: Any) -> dict[str, Any]:
    get = result.get if isinstance(result, dict) else (lambda k, d=None: getattr(result, k, d))
    return {
        "status": str(get("status", "loaded")),
        "rows_loaded": int(get("rows_loaded", 0) or 0),
        "rows_quarantined": int(get("rows_quarantined", 0) or 0),
        "error": get("error", None),
    }


def load_outcomes(items: Sequence[dict[str, Any]], url: str | None = None) -> list[dict[str, Any]]:
    """The ledger's verdict on each item since it was discovered: loaded / unchanged / rejected / failed /
    not_attempted (its load task never ran, e.g. after a failed reference load)."""
    if not items:
        return []
    with psycopg.connect(warehouse_url(url)) as conn:
        if not relation_exists(conn, "meta.load_log"):
            return [{**i, "status": "not_attempted"} for i in items]
        since = min(i["discovered_at"] for i in items)
        rows = conn.execute(
            """SELECT section, business_date::text, kind, status, rows_loaded, rows_quarantined, error,
                      started_at
               FROM meta.load_log
               WHERE file_name IS NULL AND started_at >= %s::timestamptz
               ORDER BY load_id""", (since,)).fetchall()
    latest: dict[tuple[str, str, str], tuple] = {}
    for s, d, k, st, rl, rq, e, started in rows:  # ascending load_id: the last attempt wins
        latest[(s, d, k)] = (st, rl, rq, e, started)
    out = []
    for i in items:
        st, rl, rq, e, started = latest.get((i["section"], i["date"], i["kind"]), ("not_attempted", 0, 0, None, None))
        if started is not None and started < datetime.fromisoformat(i["discovered_at"]):
            st, rl, rq, e = "not_attempted", 0, 0, None
        out.append({**i, "status": st, "rows_loaded": int(rl or 0), "rows_quarantined": int(rq or 0),
                    "error": e})
    return out
