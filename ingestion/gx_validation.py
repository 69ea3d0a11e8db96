"""Running a kind's expectation suite over the candidate partition (load.new_<id>).

The suites are read from the GX file context under expectations/ (written by
ingestion.gx_suites). The run itself happens in an ephemeral context so
concurrent loads never rewrite great_expectations.yml: a postgres datasource on
the warehouse, a table asset on the scratch table, one checkpoint per
kind-load with an UpdateDataDocsAction writing to settings().data_docs_dir.
All metrics are SQL in PostgreSQL; only failing examples (<= 20) come back.
"""

from __future__ import annotations

import logging
import statistics
import threading
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import psycopg
import psycopg.rows

from ingestion.contract import Kind
from warehouse.config import settings

log = logging.getLogger("ingestion.gx")
_LOCK = threading.Lock()
_STATE: dict[str, Any] = {}
EXAMPLES = 5


@dataclass
class Outcome:
    name: str  # the check id from the expectation's meta, e.g. "code_table:med_type"
    severity: str  # critical / warning
    success: bool
    expectation_type: str = ""
    unexpected_count: int | None = None
    examples: list = field(default_factory=list)
    details: dict = field(default_factory=dict)

    def message(self) -> str:
        head = f"{self.name} ({self.expectation_type})"
        if self.details.get("exception"):
            return f"{head} raised: {self.details['exception']}"
        cnt = f" {self.unexpected_count} unexpected" if self.unexpected_count is not None else ""
        ex = f"; e.g. {self.examples[:EXAMPLES]}" if self.examples else ""
        obs = self.details.get("observed_value")
        obs_s = f"; observed {obs}" if obs is not None and not self.examples else ""
        return f"{head} failed:{cnt}{ex}{obs_s}"


def _sqlalchemy_url(url: str) -> str:
    # psycopg (3) driver: installed with the loader and understands the same URLs incl. ?host=<socket dir>
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url[len("postgres://"):]
    return url


def _context():
    """Process-wide ephemeral context with the versioned suites and the Data Docs site."""
    if "ctx" in _STATE:
        return _STATE["ctx"]
    import great_expectations as gx

    from ingestion.gx_suites import file_context

    files = file_context()
    ctx = gx.get_context(mode="ephemeral")
    docs_dir = settings().data_docs_dir
    docs_dir.mkdir(parents=True, exist_ok=True)
    ctx.add_data_docs_site(
        site_name="medwatch_arrival",
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    suites = {}
    for s in files.suites.all():
        data = s.to_json_dict()
        data.pop("id", None)
        for e in data.get("expectations", []):
            e.pop("id", None)
        suites[s.name] = ctx.suites.add(gx.ExpectationSuite(**data))
    _STATE.update(ctx=ctx, suites=suites, datasources={})
    return ctx


def volume_band(conn: psycopg.Connection, kind: Kind, business_date: date) -> tuple[int, int]:
    """Plausible row-count band from the last 14 loaded days of the kind (median / 3 .. median × 3)."""
    rows = [r[0] for r in conn.execute(
        """
        SELECT DISTINCT ON (business_date) rows_loaded FROM meta.load_log
        WHERE section = %s AND kind = %s AND file_name IS NULL AND status = 'loaded'
          AND business_date < %s AND business_date >= %s::date - 14
        ORDER BY business_date, load_id DESC
        """,
        (kind.section, kind.name, business_date, business_date),
    ).fetchall()]
    if len(rows) < 3:
        return 0, 2**62  # too little history for a band: never warn
    med = statistics.median(rows)
    return int(med / 3), int(med * 3) + 1


def validate_table(*, conn: psycopg.Connection, conn_url: str, table: str, kind: Kind,
                   business_date: date, load_id: int) -> list[Outcome]:
    """Run the kind's suite on `table` (schema-qualified) through one checkpoint; return every outcome."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    from ingestion.gx_suites import suite_name

    vmin, vmax = volume_band(conn, kind, business_date)
    schema, tname = table.split(".")
    with _LOCK:  # the GX context is not thread-safe
        ctx = _context()
        dss = _STATE["datasources"]
        if conn_url not in dss:
            dss[conn_url] = ctx.data_sources.add_postgres(
                name=f"warehouse_{len(dss)}", connection_string=_sqlalchemy_url(conn_url)
            )
        ds = dss[conn_url]
        asset_name = f"{kind.name}_{business_date:%Y%m%d}_{load_id}"
        asset = ds.add_table_asset(name=asset_name, table_name=tname, schema_name=schema)
        try:
            bd = asset.add_batch_definition_whole_table("candidate")
            vd = ctx.validation_definitions.add(gx.ValidationDefinition(
                name=asset_name, data=bd, suite=_STATE["suites"][suite_name(kind)]))
            cp = ctx.checkpoints.add(gx.Checkpoint(
                name=asset_name, validation_definitions=[vd],
                actions=[UpdateDataDocsAction(name="data_docs", site_names=["medwatch_arrival"])],
            ))
            res = cp.run(expectation_parameters={"volume_min": vmin, "volume_max": vmax})
        finally:
            for remove in (lambda: ctx.checkpoints.delete(asset_name),
                           lambda: ctx.validation_definitions.delete(asset_name),
                           lambda: ds.delete_asset(asset_name)):
                try:
                    remove()
                except Exception:  # noqa: BLE001 - bookkeeping of the in-memory context only
                    pass
    out: list[Outcome] = []
    for vr in res.run_results.values():
        for r in vr.results:
            cfg = r.expectation_config
            meta = cfg.meta or {}
            result = r.result or {}
            details: dict = {}
            if r.exception_info and r.exception_info.get("raised_exception"):
                details["exception"] = r.exception_info.get("exception_message")
            if "observed_value" in result:
                details["observed_value"] = result["observed_value"]
            examples = list(result.get("partial_unexpected_list") or [])
            if not r.success and cfg.type == "unexpected_rows_expectation" and not details.get("exception"):
                # SUMMARY results carry no rows: fetch a few failing examples ourselves (failures only)
                examples = _failing_rows(conn, cfg.kwargs["unexpected_rows_query"], table, kind)
            count = result.get("unexpected_count")
            if count is None and "observed_value" in result and cfg.type == "unexpected_rows_expectation":
                count = result["observed_value"]
            out.append(Outcome(
                name=meta.get("check", cfg.type), severity=meta.get("severity", "critical"),
                success=bool(r.success), expectation_type=cfg.type, unexpected_count=count,
                examples=examples[:20], details=details,
            ))
    return out


def _failing_rows(conn: psycopg.Connection, query: str, table: str, kind: Kind) -> list[dict]:
    """Up to 20 failing rows: file, line, key and the columns the check is about."""
    q = query.replace("{batch}", table)
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute(f"SELECT * FROM ({q}) AS failing ORDER BY source_file, source_line LIMIT 20")
        rows = cur.fetchall()
    out = []
    for r in rows:
        keep = {"file": r.get("source_file"), "line": r.get("source_line")}
        for c in kind.key:
            keep[c] = r.get(c)
        for c, v in r.items():
            if c in kind.columns and c not in keep and c in query and v is not None:
                keep[c] = v
        out.append({k: (str(v) if v is not None else None) for k, v in keep.items()})
    return out
