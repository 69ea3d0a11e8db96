"""Refunds that arrived before their original: re-admitted once the original is loaded.

A refund line whose original is not in staging is quarantined ("refund points at
nothing"). When the original's delivery was itself rejected and is re-delivered
later (or arrives late), those refunds are not bad data any more: leaving them in
quarantine would make the warehouse differ from one loaded in order. After every
successful load of a fee kind the loader calls `release_waiting_refunds`, which
reloads (idempotently, replacing that day's rows) every delivery of the kind whose
quarantined refunds now find their original. It also covers the race of two
concurrent loads (Celery workers): each load checks after its own commit, so
whichever of the two commits last sees the other's rows.
"""

from __future__ import annotations

import logging
from datetime import date

import psycopg

from ingestion.contract import KINDS

log = logging.getLogger(__name__)

ORPHAN_REFUND = "refund points at nothing"


def waiting_dates(conn: psycopg.Connection, kind: str) -> list[date]:
    """Business dates of `kind` whose current quarantine holds refunds whose original is now in staging."""
    k = KINDS[kind]
    if "init_feedetl_sn" not in k.columns:
        return []
    rows = conn.execute(
        f"""SELECT DISTINCT q.business_date FROM meta.quarantine AS q
            WHERE q.kind = %s AND q.reason LIKE %s
              AND EXISTS (SELECT 1 FROM {k.table} AS s
                          WHERE s.fixmedins_code = q.raw_row ->> 'fixmedins_code'
                            AND s.mdtrt_id = q.raw_row ->> 'mdtrt_id'
                            AND s.feedetl_sn = q.raw_row ->> 'init_feedetl_sn')
            ORDER BY 1""",
        (kind, ORPHAN_REFUND + "%"),
    ).fetchall()
    return [r[0] for r in rows]


def release_waiting_refunds(ref, conn_url: str, _seen: set[tuple[str, date]] | None = None) -> list:
    """Reload the deliveries of ref's kind whose quarantined refunds can now be matched; returns their results."""
    from ingestion.delivery import folder_refs
    from ingestion.loader import load_kind

    if "init_feedetl_sn" not in KINDS[ref.kind].columns:  # only fee lines are refunds
        return []
    seen = _seen if _seen is not None else set()
    with psycopg.connect(conn_url) as conn:
        if conn.execute("SELECT to_regclass('meta.quarantine')").fetchone()[0] is None:
            return []
        dates = waiting_dates(conn, ref.kind)
    results = []
    landing = ref.folder.parent.parent
    for d in dates:
        if (ref.kind, d) in seen:  # one retry per delivery: a refund still unmatched stays quarantined
            continue
        seen.add((ref.kind, d))
        for other in folder_refs(landing, ref.section, d):
            if other.kind != ref.kind:
                continue
            log.info("%s/%s %s: reloading, its quarantined refunds now find their original",
                     ref.section, d, ref.kind)
            results.append(load_kind(other, conn_url=conn_url, force=True, _released=seen))
    return results
