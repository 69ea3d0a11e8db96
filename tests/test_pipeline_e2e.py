"""End to end: a real `airflow dags test daily_monitoring` (pipeline.run_local) on a small generated landing.

1. clean run: staging, catalogue, intermediate, rules and marts populated; the hospital export
   files hold exactly marts.fct_violations' rows per institution and month; run summary written.
2. failure path: a truncated transfer (file disagrees with its manifest) fails its load task with
   the loader's message, loads nothing of that kind and date, fails the run; after the corrected
   delivery the next run succeeds and staging, suspects and exports equal the clean run's.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from _dag_run import DAG_RUN_GROUP, FIRST_DAY, RUN_DATE, DagRun, run_pipeline

from pipeline.exports import read_csv_export

pytestmark = [pytest.mark.slow, DAG_RUN_GROUP]

BROKEN_DAY, BROKEN_KIND = "2024-01-08", "his_feedetail"


def count(conn: psycopg.Connection, rel: str) -> int:
    return conn.execute(f"SELECT count(*) FROM {rel}").fetchone()[0]


def staging_counts(conn: psycopg.Connection) -> dict[tuple[str, str], int]:
    from ingestion.contract import DAILY_KINDS

    out = {}
    for k in DAILY_KINDS:
        for d, n in conn.execute(f"SELECT business_date::text, count(*) FROM {k.table} GROUP BY 1").fetchall():
            out[(k.name, d)] = n
    return out


def violations(conn: psycopg.Connection) -> set[tuple]:
    return set(conn.execute(
        "SELECT violation_id, rule_code, fixmedins_code, business_date::text, amount::text "
        "FROM marts.fct_violations").fetchall())


def export_contents(exports_dir: Path) -> dict[str, list[dict[str, str]]]:
    return {str(p.relative_to(exports_dir)): [{k: v for k, v in r.items() if k != "detected_at"}
                                              for r in read_csv_export(p)]
            for p in sorted(exports_dir.glob("*/*/*.csv"))}


def assert_exports_match_mart(conn: psycopg.Connection, exports_dir: Path) -> None:
    expected: dict[str, set[str]] = {}
    for vid, inst, month in conn.execute(
            "SELECT violation_id, fixmedins_code, to_char(business_date, 'YYYY-MM') FROM marts.fct_violations "
            "WHERE fixmedins_code IS NOT NULL").fetchall():
        expected.setdefault(f"{month}/{inst}/suspects_{inst}_{month}.csv", set()).add(vid)
    got = {k: [r["violation_id"] for r in rows] for k, rows in export_contents(exports_dir).items()}
    assert expected, "the generated days should yield institution suspects"
    assert set(got) == set(expected)
    for k, ids in got.items():
        assert len(ids) == len(set(ids)) and set(ids) == expected[k], k
        assert (exports_dir / k).with_suffix(".xlsx").is_file()


def test_clean_run_populates_every_layer_and_exports(dag_run: DagRun) -> None:
    from ingestion.delivery import discover

    rc, out, url, exports_dir, landing = (dag_run.returncode, dag_run.output, dag_run.url, dag_run.exports_dir,
                                          dag_run.landing)
    assert rc == 0, out[-6000:]
    expected_deliveries = len(discover(landing, up_to=RUN_DATE, pending_only=False))
    with psycopg.connect(url) as conn:
        sc = staging_counts(conn)
        assert {d for _, d in sc} == {f"2024-01-0{i}" for i in range(FIRST_DAY.day, RUN_DATE.day + 1)}
        assert count(conn, "staging.ref_med_list") > 0
        for rel in ("stg.stg_his_feedetail", "catalogue.dim_med_list", "catalogue.dim_institution",
                    "intermediate.int_fee_lines", "intermediate.int_visits", "marts.fct_violations"):
            assert count(conn, rel) > 0, rel
        rules = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'rules'").fetchall()]
        assert len([r for r in rules if r.startswith("rule_r")]) == 16
        summary = conn.execute(
            "SELECT status, deliveries_loaded, rows_loaded, suspects_total, suspects_by_rule "
            "FROM meta.run_summary WHERE dag_id = 'daily_monitoring'").fetchall()
        assert len(summary) == 1
        status, loaded, rows, total, by_rule = summary[0]
        assert status == "success"
        assert loaded == expected_deliveries
        assert rows >= sum(sc.values())
        assert total == count(conn, "marts.fct_violations") == sum(v["count"] for v in by_rule.values())
        assert_exports_match_mart(conn, exports_dir)
    assert "run summary" in out
    # Data Docs are rendered once per run from meta.validation_results
    assert f"Data Docs (validation results of this run): {dag_run.data_docs_dir / 'index.html'}" in out
    assert (dag_run.data_docs_dir / "index.html").is_file()
    assert list((dag_run.data_docs_dir / "validations").rglob("*.html"))


def test_broken_delivery_fails_cleanly_then_correction_equals_clean_run(
        dag_run: DagRun, tmp_path: Path, make_db: Callable[[str], str]) -> None:
    rc_clean, out_clean, clean_url, clean_exports = dag_run.returncode, dag_run.output, dag_run.url, dag_run.exports_dir
    landing = dag_run.landing
    assert rc_clean == 0, out_clean[-3000:]

    broken = tmp_path / "landing"
    shutil.copytree(landing, broken)
    folder = broken / "daily" / BROKEN_DAY
    victim = sorted(folder.glob(f"{BROKEN_KIND}*.csv"))[0]
    original = victim.read_bytes()
    lines = original.splitlines(keepends=True)
    victim.write_bytes(b"".join(lines[: max(2, len(lines) // 2)]))  # a truncated transfer

    url = make_db("mfm_e2e_broken")
    home = tmp_path / "airflow_broken"
    rc, out = run_pipeline(tmp_path, broken, url, "broken", airflow_home=home)
    assert rc == 1, out[-3000:]
    assert f"daily/{BROKEN_DAY}/{BROKEN_KIND} rejected" in out, out[-6000:]
    assert victim.name in out  # the message names the file
    with psycopg.connect(url) as conn:
        n = conn.execute(f"SELECT count(*) FROM staging.{BROKEN_KIND} WHERE business_date = %s",
                         (BROKEN_DAY,)).fetchone()[0]
        assert n == 0, "nothing of the rejected kind and date may be visible"
        scratch = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'load'").fetchone()[0]
        assert scratch == 0, "no scratch tables left behind"
        status, failed, details = conn.execute(
            "SELECT status, deliveries_failed, details FROM meta.run_summary").fetchone()
        assert status == "failed" and failed == 1
        assert any(x["kind"] == BROKEN_KIND and x["status"] == "rejected" for x in details["loads"])

    # the hospital re-delivers the folder: the complete file, the manifest written last
    victim.write_bytes(original)
    manifest = folder / "manifest.json"
    manifest.write_bytes(manifest.read_bytes())
    rc, out = run_pipeline(tmp_path, broken, url, "broken", airflow_home=home)
    assert rc == 0, out[-6000:]
    with psycopg.connect(url) as conn, psycopg.connect(clean_url) as clean:
        assert staging_counts(conn) == staging_counts(clean)
        assert violations(conn) == violations(clean)
        assert_exports_match_mart(conn, tmp_path / "exports_broken")
    assert export_contents(tmp_path / "exports_broken") == export_contents(clean_exports)


def test_no_unmasked_personal_data_outside_staging(dag_run: DagRun) -> None:
    """Every column of every relation the DAG built beyond staging, scanned for real certnos and names."""
    from warehouse import security

    assert dag_run.returncode == 0, dag_run.output[-3000:]
    with psycopg.connect(dag_run.url) as conn:
        schemas = [r[0] for r in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname IN"
            " ('stg', 'catalogue', 'intermediate', 'rules', 'marts')").fetchall()]
        assert len(schemas) == 5
        assert security.personal_data_findings(conn, schemas) == []
        # the scan is not blind: staging, where real values live, is reported
        leaks = security.personal_data_findings(conn, ["staging"], limit_per_column=1)
        assert {"staging.ref_psn"} <= {rel for rel, _, _ in leaks}
