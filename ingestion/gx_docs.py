"""Great Expectations Data Docs of the arrival checks, built once per pipeline run (not per load).

  build_data_docs(conn_url=None, docs_dir=None, since=None) -> Path of index.html
  python -m ingestion docs [--since TIMESTAMP]

Each load records its validation outcomes in meta.validation_results (one row
per expectation). This turns them back into GX validation results (suite
expectation + result) in an ephemeral context and lets GX's SiteBuilder render
the site into DATA_DOCS_DIR: the index, one page per kind-load validation and
one per suite. Rebuilding per load cost ~0.7 s and the GX import 3-12 s per
load process; once per run it is paid once.

Which validations: the latest load of every (section, date, kind) — the
current state of staging — or, with `since`, every load validated at or after
that time (e.g. a pipeline run's start).
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import psycopg

from ingestion.contract import KINDS
from ingestion.gx_sql import load_suite, suite_name
from ingestion.schema import ensure_schema
from warehouse.config import settings

log = logging.getLogger("ingestion.gx")
SITE = "medwatch_arrival"


def _rows(conn: psycopg.Connection, since: dt.datetime | None) -> list[tuple]:
    if since is not None:
        where = "v.validated_at >= %s"
        params: tuple = (since,)
    else:
        where = ("v.load_id IN (SELECT DISTINCT ON (business_date, kind) load_id FROM meta.validation_results"
                 " ORDER BY business_date, kind, load_id DESC)")
        params = ()
    return conn.execute(
        "SELECT v.load_id, v.business_date, v.kind, v.expectation, v.severity, v.success, v.unexpected_count,"
        " v.examples, v.details, v.validated_at, l.section, l.status FROM meta.validation_results AS v"
        " LEFT JOIN meta.load_log AS l ON l.load_id = v.load_id"
        f" WHERE {where} ORDER BY v.load_id", params,
    ).fetchall()


def build_data_docs(conn_url: str | None = None, docs_dir: Path | None = None,
                    since: dt.datetime | None = None) -> Path:
    """Render the Data Docs site from meta.validation_results; returns the index.html path."""
    import great_expectations as gx
    from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    if conn_url is None:
        from warehouse.embedded import resolve_warehouse_url

        conn_url = resolve_warehouse_url()
    docs_dir = Path(docs_dir or settings().data_docs_dir)
    docs_dir.mkdir(parents=True, exist_ok=True)
    with psycopg.connect(conn_url, autocommit=True) as conn:
        ensure_schema(conn)
        rows = _rows(conn, since)

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    ctx.add_data_docs_site(site_name=SITE, site_config={
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    })
    configs: dict[str, dict[str, ExpectationConfiguration]] = {}
    for kind in KINDS.values():
        data = load_suite(kind)
        data.pop("id", None)
        by_check = {}
        for e in data["expectations"]:
            e.pop("id", None)
            by_check[(e.get("meta") or {}).get("check", e["type"])] = ExpectationConfiguration(
                type=e["type"], kwargs=e["kwargs"], meta=e.get("meta"))
        configs[kind.name] = by_check
        ctx.suites.add(gx.ExpectationSuite(**data))

    loads: dict[int, list[tuple]] = {}
    for r in rows:
        loads.setdefault(r[0], []).append(r)
    store = ctx.validation_results_store
    for load_id, vrows in loads.items():
        _, d, kind, *_rest = vrows[0]
        validated_at, section, status = vrows[0][9], vrows[0][10] or KINDS[kind].section, vrows[0][11]
        results = []
        for (_lid, _d, _k, check, severity, success, unexpected, examples, details, *_x) in vrows:
            cfg = configs.get(kind, {}).get(check)
            if cfg is None:  # an expectation since removed from the suite: keep its outcome visible
                cfg = ExpectationConfiguration(type="expect_column_values_to_not_be_null",
                                               kwargs={"column": check}, meta={"check": check})
            details = dict(details or {})
            exc = details.pop("exception", None)
            bounds = {b: details.pop(b) for b in ("min_value", "max_value") if b in details}
            if bounds:  # the suite parameters this load resolved (volume band)
                cfg = ExpectationConfiguration(type=cfg.type, kwargs={**cfg.kwargs, **bounds}, meta=cfg.meta)
            result = {k: v for k, v in details.items() if v is not None}
            if unexpected is not None:
                result["unexpected_count"] = unexpected
            if examples and "observed_value" not in result:
                result["partial_unexpected_list"] = examples
            results.append(ExpectationValidationResult(
                success=bool(success), expectation_config=cfg, result=result,
                meta={"severity": severity},
                exception_info={"raised_exception": bool(exc), "exception_message": exc,
                                "exception_traceback": None},
            ))
        n_ok = sum(1 for r in results if r.success)
        run_id = RunIdentifier(run_name=f"load_{load_id}", run_time=validated_at)
        batch = f"{section}/{d.isoformat()}/{kind}"
        vr = ExpectationSuiteValidationResult(
            success=n_ok == len(results), results=results, suite_name=suite_name(KINDS[kind]),
            statistics={"evaluated_expectations": len(results), "successful_expectations": n_ok,
                        "unsuccessful_expectations": len(results) - n_ok,
                        "success_percent": 100.0 * n_ok / len(results) if results else None},
            meta={"run_id": run_id, "validation_time": validated_at.isoformat(),
                  "expectation_suite_name": suite_name(KINDS[kind]), "batch_parameters": None,
                  "active_batch_definition": {"datasource_name": "warehouse", "data_connector_name": "staging",
                                              "data_asset_name": batch, "batch_identifiers": {}},
                  "batch_spec": {"load_id": load_id, "status": status}},
            batch_id=batch,
        )
        store.set(ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite_name(KINDS[kind])),
            run_id=run_id, batch_identifier=f"{kind}_{d:%Y%m%d}_{load_id}"), vr)
    ctx.build_data_docs(site_names=[SITE])
    index = docs_dir / "index.html"
    log.info("Data Docs: %d validation(s) rendered into %s", len(loads), index)
    return index
