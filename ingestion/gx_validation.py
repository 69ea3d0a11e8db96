"""Running a kind's expectation suite over the candidate partition (load.new_<id>).

The suites are read from the GX file context under expectations/ (written by
ingestion.gx_suites). The run itself happens in an ephemeral context so
concurrent loads never rewrite great_expectations.yml: a postgres datasource on
the warehouse, a table asset on the scratch table, one checkpoint per
kind-load with an UpdateDataDocsAction writing to settings().data_docs_dir.
All metrics are SQL in PostgreSQL; only failing examples (<= 20) come back.
"""

from __future__ import annotations

import copy
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
        head = self.name
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
    from great_expectations.data_context.types.base import ProgressBarsConfig

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
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
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


def violation_checks(kind: Kind) -> dict[str, str]:
    """check column -> violation SQL, from the versioned suite's meta."""
    from ingestion.gx_suites import suite_name

    _context()
    out = {}
    for e in _STATE["suites"][suite_name(kind)].expectations:
        sql = (e.meta or {}).get("violation_sql")
        if sql:
            out[e.column] = sql
    return out


def validate_table(*, conn: psycopg.Connection, conn_url: str, table: str, kind: Kind,
                   business_date: date, load_id: int) -> list[Outcome]:
    """Run the kind's suite on `table` (schema-qualified) through one checkpoint; return every outcome.

    Pass 1 (BOOLEAN_ONLY) is all bundled aggregates; only when something fails is the
    failing subset re-run with SUMMARY for counts and examples.
    """
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    from ingestion.gx_suites import suite_name

    vmin, vmax = volume_band(conn, kind, business_date)
    view = f"load.gxv_{load_id}"
    with _LOCK:  # the GX context is not thread-safe
        ctx = _context()
        chk = violation_checks(kind)
        cols = "".join(f", coalesce(({sql}), false) AS {c}" for c, sql in chk.items())
        conn.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT t.*{cols} FROM {table} AS t")
        dss = _STATE["datasources"]
        if conn_url not in dss:
            dss[conn_url] = ctx.data_sources.add_postgres(
                name=f"warehouse_{len(dss)}", connection_string=_sqlalchemy_url(conn_url)
            )
        ds = dss[conn_url]
        asset_name = f"{kind.name}_{business_date:%Y%m%d}_{load_id}"
        asset = ds.add_table_asset(name=asset_name, table_name=view.split(".")[1], schema_name="load")
        suite = _STATE["suites"][suite_name(kind)]
        params = {"volume_min": vmin, "volume_max": vmax}
        try:
            bd = asset.add_batch_definition_whole_table("candidate")
            vd = ctx.validation_definitions.add(gx.ValidationDefinition(name=asset_name, data=bd, suite=suite))
            cp = ctx.checkpoints.add(gx.Checkpoint(
                name=asset_name, validation_definitions=[vd],
                actions=[UpdateDataDocsAction(name="data_docs", site_names=["medwatch_arrival"])],
                result_format={"result_format": "BOOLEAN_ONLY"},
            ))
            res = cp.run(expectation_parameters=params)
            results = [r for vr in res.run_results.values() for r in vr.results]
            failed = [r.expectation_config for r in results if not r.success]
            detail = {}
            if failed:
                detail = _rerun_failed(ctx, bd, asset_name, failed, params)
            out = [_outcome(r, detail.get(_cfg_key(r.expectation_config)), conn, view, kind) for r in results]
        finally:
            for remove in (lambda: ctx.checkpoints.delete(asset_name),
                           lambda: ctx.validation_definitions.delete(asset_name),
                           lambda: ctx.validation_definitions.delete(asset_name + "_detail"),
                           lambda: ctx.suites.delete(asset_name + "_detail"),
                           lambda: ds.delete_asset(asset_name)):
                try:
                    remove()
                except Exception:  # noqa: BLE001 - bookkeeping of the in-memory context only
                    pass
            conn.execute(f"DROP VIEW IF EXISTS {view}")
    return out


def _cfg_key(cfg) -> str:
    return (cfg.meta or {}).get("check", cfg.type) + "|" + cfg.type


def _rerun_failed(ctx, bd, asset_name: str, failed: list, params: dict) -> dict:
    import great_expectations as gx

    exps = []
    for cfg in failed:
        e = copy.copy(cfg.to_domain_obj())
        e.id = None  # a fresh expectation of the detail suite, not the versioned one
        exps.append(e)
    detail_suite = ctx.suites.add(gx.ExpectationSuite(name=asset_name + "_detail", expectations=exps))
    vd = ctx.validation_definitions.add(gx.ValidationDefinition(
        name=asset_name + "_detail", data=bd, suite=detail_suite))
    vr = vd.run(expectation_parameters=params,
                result_format={"result_format": "SUMMARY", "partial_unexpected_count": 20})
    return {_cfg_key(r.expectation_config): r for r in vr.results}


def _outcome(r, detail, conn: psycopg.Connection, view: str, kind: Kind) -> Outcome:
    cfg = r.expectation_config
    meta = cfg.meta or {}
    src = detail if detail is not None else r
    result = src.result or {}
    details: dict = {}
    if src.exception_info and src.exception_info.get("raised_exception"):
        details["exception"] = src.exception_info.get("exception_message")
    if "observed_value" in result:
        details["observed_value"] = result["observed_value"]
    examples = list(result.get("partial_unexpected_list") or [])
    count = result.get("unexpected_count")
    if not r.success and meta.get("violation_sql") and not details.get("exception"):
        # the check column's values say nothing: show the violating rows (file, line, key, columns)
        examples = _failing_rows(conn, view, cfg.kwargs["column"], meta["violation_sql"], kind)
    return Outcome(
        name=meta.get("check", cfg.type), severity=meta.get("severity", "critical"),
        success=bool(r.success), expectation_type=cfg.type, unexpected_count=count,
        examples=examples[:20], details=details,
    )


def _failing_rows(conn: psycopg.Connection, view: str, column: str, sql: str, kind: Kind) -> list[dict]:
    """Up to 20 violating rows: file, line, key and the columns the check is about."""
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute(f"SELECT * FROM {view} WHERE {column} ORDER BY source_file, source_line LIMIT 20")
        rows = cur.fetchall()
    out = []
    for r in rows:
        keep = {"file": r.get("source_file"), "line": r.get("source_line")}
        for c in kind.key:
            keep[c] = r.get(c)
        for c, v in r.items():
            if c in kind.columns and c not in keep and c in sql and v is not None:
                keep[c] = v
        out.append({k: (str(v) if v is not None else None) for k, v in keep.items()})
    return out
