"""Running a kind's expectation suite over the candidate partition (load.new_<id>).

The suites are the versioned GX JSON under expectations/ (written by
ingestion.gx_suites). Normally they are evaluated as SQL by ingestion.gx_sql
(no GX import: a load costs well under a second of fixed time); a suite
holding an expectation gx_sql does not know runs through a GX checkpoint in a
process-wide ephemeral context (postgres datasource, table asset on the view)
instead. Either way every metric is computed by PostgreSQL and only failing
examples (<= 20) come back. Data Docs are built separately, once per pipeline
run (ingestion.gx_docs.build_data_docs), from meta.validation_results.
"""

from __future__ import annotations

import copy
import logging
import statistics
import threading
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import psycopg.rows

from ingestion import gx_sql
from ingestion.contract import Kind

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
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            url = "postgresql+psycopg://" + url[len(scheme):]
    # GX validates the URL and wants a host; the embedded server's socket URL has none
    # (postgresql://postgres:@/postgres?host=<dir>). libpq lets ?host= override it.
    parts = urlsplit(url)
    if not parts.hostname and "host=" in parts.query:
        userinfo = parts.netloc.rpartition("@")[0]
        url = urlunsplit(parts._replace(netloc=f"{userinfo}@localhost" if userinfo else "localhost"))
    return url


def _context():
    """Process-wide ephemeral context holding the versioned suites (GX fallback engine only)."""
    if "ctx" in _STATE:
        return _STATE["ctx"]
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from ingestion.gx_suites import file_context

    files = file_context()
    ctx = gx.get_context(mode="ephemeral")
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
    out = {}
    for e in gx_sql.load_suite(kind)["expectations"]:
        cc = gx_sql.check_column(e)
        if cc:
            out[cc[0]] = cc[1]
    return out


def validate_table(*, conn: psycopg.Connection, conn_url: str, table: str, kind: Kind,
                   business_date: date, load_id: int, engine: str = "auto") -> list[Outcome]:
    """Run the kind's suite on `table` (schema-qualified); return every outcome, in suite order.

    engine "auto": SQL (ingestion.gx_sql) when it evaluates every expectation of the suite, else a GX
    checkpoint; "gx" forces the checkpoint (tests compare both). Data Docs are not built here
    (ingestion.gx_docs.build_data_docs, once per pipeline run, from meta.validation_results).
    """
    vmin, vmax = volume_band(conn, kind, business_date)
    params = {"volume_min": vmin, "volume_max": vmax}
    view = f"load.gxv_{load_id}"
    cols = "".join(f", coalesce(({sql}), false) AS {c}" for c, sql in violation_checks(kind).items())
    conn.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT t.*{cols} FROM {table} AS t")
    try:
        evaluated = gx_sql.evaluate(conn, view, kind, params) if engine == "auto" else None
        if evaluated is None:
            return _validate_with_gx(conn, conn_url, view, kind, business_date, load_id, params)
        return [_outcome_sql(ev, conn, view, kind) for ev in evaluated]
    finally:
        conn.execute(f"DROP VIEW IF EXISTS {view}")


def _outcome_sql(ev: gx_sql.Evaluated, conn: psycopg.Connection, view: str, kind: Kind) -> Outcome:
    e = ev.expectation
    meta = e.get("meta") or {}
    examples = list(ev.examples or [])
    cc = gx_sql.check_column(e)
    if not ev.success and cc:
        examples = _failing_rows(conn, view, cc[0], cc[1], kind)
    details = {k: v for k, v in ev.result.items() if k not in ("unexpected_count", "partial_unexpected_list")}
    return Outcome(
        name=meta.get("check", e["type"]), severity=meta.get("severity", "critical"), success=ev.success,
        expectation_type=e["type"], unexpected_count=ev.unexpected_count, examples=examples[:20],
        details=details,
    )


def _validate_with_gx(conn: psycopg.Connection, conn_url: str, view: str, kind: Kind, business_date: date,
                      load_id: int, params: dict) -> list[Outcome]:
    """The suite through one GX checkpoint on the view (BOOLEAN_ONLY, failing subset re-run with SUMMARY)."""
    import great_expectations as gx

    with _LOCK:  # the GX context is not thread-safe
        ctx = _context()
        dss = _STATE["datasources"]
        if conn_url not in dss:
            dss[conn_url] = ctx.data_sources.add_postgres(
                name=f"warehouse_{len(dss)}", connection_string=_sqlalchemy_url(conn_url)
            )
        ds = dss[conn_url]
        asset_name = f"{kind.name}_{business_date:%Y%m%d}_{load_id}"
        asset = ds.add_table_asset(name=asset_name, table_name=view.split(".")[1], schema_name="load")
        suite = _STATE["suites"][gx_sql.suite_name(kind)]
        try:
            bd = asset.add_batch_definition_whole_table("candidate")
            vd = ctx.validation_definitions.add(gx.ValidationDefinition(name=asset_name, data=bd, suite=suite))
            cp = ctx.checkpoints.add(gx.Checkpoint(
                name=asset_name, validation_definitions=[vd], actions=[],
                result_format={"result_format": "BOOLEAN_ONLY"},
            ))
            res = cp.run(expectation_parameters=params)
            results = [r for vr in res.run_results.values() for r in vr.results]
            failed = [r.expectation_config for r in results if not r.success]
            detail = {}
            if failed:
                detail = _rerun_failed(ctx, bd, asset_name, failed, params)
            return [_outcome(r, detail.get(_cfg_key(r.expectation_config)), conn, view, kind) for r in results]
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
