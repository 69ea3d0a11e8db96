"""Every dbt model, seed and source, and every column, is described (zh + en); `dbt docs generate` works.

The fast test reads the manifest of a private `dbt parse`. It sees only the
columns the yml files declare, so the slow test builds every model on an empty
warehouse (`dbt run` over empty staging tables), generates the docs and checks each column the
database actually has against the manifest: a column a model adds without a
yml entry is caught there.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pipeline.dbt_cli import run_dbt

CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-z]{2,}")
DOCUMENTED = ("model", "seed", "source")


def _dbt(url: str | None, target: Path, *args: str) -> None:
    res = run_dbt([*args, "--target-path", str(target), "--log-path", str(target / "logs")], url)
    failed = [f"{r.node.unique_id}: {r.message}" for r in getattr(res.result, "results", None) or []
              if str(getattr(r.status, "value", r.status)) in ("error", "fail")]
    assert res.success, f"dbt {' '.join(args)} failed: {res.exception or failed}"


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory, server_url: str) -> dict[str, Any]:
    target = tmp_path_factory.mktemp("dbt_parse")
    _dbt(server_url, target, "parse")  # parse opens no connection; the URL only fills the profile
    return json.loads((target / "manifest.json").read_text())


def _documented(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    nodes = {k: v for k, v in manifest["nodes"].items()
             if v["resource_type"] in DOCUMENTED and v["package_name"] == "medwatch"}
    nodes.update({k: v for k, v in manifest["sources"].items() if v["package_name"] == "medwatch"})
    return nodes


def test_every_model_seed_and_source_is_described_in_both_languages(manifest: dict[str, Any]) -> None:
    nodes = _documented(manifest)
    assert sum(1 for v in nodes.values() if v["resource_type"] == "model") >= 60
    missing = [k for k, v in nodes.items() if not (v.get("description") or "").strip()]
    assert not missing, f"no description: {missing}"
    one_language = [k for k, v in nodes.items()
                    if not (CJK.search(v["description"]) and LATIN.search(v["description"]))]
    assert not one_language, f"description not in Chinese and English: {one_language}"


def test_every_declared_column_is_described(manifest: dict[str, Any]) -> None:
    nodes = _documented(manifest)
    no_columns = [k for k, v in nodes.items() if not v["columns"]]
    assert not no_columns, f"no column documented at all: {no_columns}"
    missing = [f"{k}.{c}" for k, v in nodes.items() for c, col in v["columns"].items()
               if not (col.get("description") or "").strip()]
    assert not missing, f"columns without a description: {missing}"


@pytest.mark.slow
def test_docs_generate_covers_every_built_column(tmp_path: Path, make_db, manifest: dict[str, Any]) -> None:
    from ingestion.schema import ensure_schema

    url = make_db("mfm_gaps_docs")
    with psycopg.connect(url, autocommit=True) as conn:
        ensure_schema(conn)  # the staging and meta sources, as ingestion creates them
    target = tmp_path / "target"
    _dbt(url, target, "seed")
    _dbt(url, target, "run")  # every model built over the empty staging tables
    _dbt(url, target, "docs", "generate")
    assert (target / "index.html").is_file()
    catalog = json.loads((target / "catalog.json").read_text())
    documented = _documented(manifest)
    built = {**catalog["nodes"], **catalog["sources"]}
    assert {k for k, v in documented.items() if v["resource_type"] == "model"} <= set(built)
    undescribed = []
    for uid, entry in built.items():
        if uid not in documented:
            continue
        declared = {c.lower(): (col.get("description") or "").strip()
                    for c, col in documented[uid]["columns"].items()}
        undescribed += [f"{uid}.{c}" for c in entry["columns"] if not declared.get(c.lower())]
    assert not undescribed, f"built columns without a description in the yml: {undescribed}"
