"""The project's own generic data tests (dbt_project/tests/generic/) each fail on a violating row.

A throw-away dbt project in tmp_path carries copies of the real generic test
files and, per test, a relation that satisfies it and one with planted
violations; one `dbt build` runs them all against a fresh database. A generic
test that stopped catching its violation (or started failing good rows) fails
here, and a new generic test without a case below fails too.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from pipeline.dbt_cli import run_dbt
from pipeline.dbt_env import DBT_PROJECT_DIR

GENERIC_DIR = DBT_PROJECT_DIR / "tests" / "generic"
# the new_rows scoping the generic tests and the `where: new_rows:...` configs share
NEW_ROWS_MACROS = DBT_PROJECT_DIR / "macros" / "tests"
BUSINESS_DATE_IN = DBT_PROJECT_DIR / "macros" / "business_date_in.sql"

# test name -> (arguments, good relation SQL, bad relation SQL, failing rows of the bad one)
CASES: dict[str, tuple[dict[str, Any], str, str, int]] = {
    "not_negative": (
        {"column_name": "x"},
        "select * from (values (0.00), (1.50), (null)) as v (x)",
        "select * from (values (1.00), (-0.01), (null)) as v (x)",
        1,
    ),
    "not_before": (
        {"column_name": "end_date", "start_column": "begin_date"},
        "select * from (values (date '2024-03-01', date '2024-03-01'), (date '2024-03-01', date '2024-03-04'),"
        " (date '2024-03-01', null)) as v (begin_date, end_date)",
        "select * from (values (date '2024-03-02', date '2024-03-01'), (date '2024-03-01', date '2024-03-01'))"
        " as v (begin_date, end_date)",
        1,
    ),
    "expression_is_true": (
        {"expression": "a <= b"},
        "select * from (values (1, 2), (2, 2)) as v (a, b)",
        # a NULL result counts as false: the invariant could not be shown
        "select * from (values (1, 2), (3, 2), (null, 1)) as v (a, b)",
        2,
    ),
    "unique_combination_of_columns": (
        {"combination_of_columns": ["k1", "k2"]},
        "select * from (values (1, 'a'), (1, 'b'), (2, 'a')) as v (k1, k2)",
        "select * from (values (1, 'a'), (1, 'a'), (2, 'a')) as v (k1, k2)",
        1,
    ),
    "history_not_overlapping": (
        {"key_columns": ["k"]},
        "select * from (values ('A', date '2024-01-01', date '2024-02-01'), ('A', date '2024-02-01', null),"
        " ('B', date '2024-01-01', null)) as v (k, valid_from, valid_to)",
        # A: the first version runs into the second; B: a version ending before it starts
        "select * from (values ('A', date '2024-01-01', date '2024-03-01'), ('A', date '2024-02-01', null),"
        " ('B', date '2024-02-01', date '2024-01-01')) as v (k, valid_from, valid_to)",
        2,
    ),
    "rank_continuity": (
        {"partition_by": ["p"], "value_column": "v", "rank_column": "r", "dense_rank_column": "d"},
        "select * from (values ('x', 10, 1, 1), ('x', 10, 1, 1), ('x', 5, 3, 2), ('y', 7, 1, 1))"
        " as t (p, v, r, d)",
        # ties then a rank without the skip (2 instead of 3)
        "select * from (values ('x', 10, 1, 1), ('x', 10, 1, 1), ('x', 5, 2, 2)) as t (p, v, r, d)",
        1,
    ),
    "totals_match": (
        # counts per key against the detail rows they count (a subquery stands in for ref())
        {"to": "(select * from (values ('a', 1.50), ('a', 2.00), ('b', 3.00)) as d (k, amount)) as detail",
         "pairs": [{"got": "sum(n)", "want": "count(*)"}, {"got": "sum(amount)", "want": "sum(amount)"}]},
        "select * from (values ('a', 2, 3.50), ('b', 1, 3.00)) as v (k, n, amount)",
        # one count off: the single comparison row fails
        "select * from (values ('a', 2, 3.50), ('b', 2, 3.00)) as v (k, n, amount)",
        1,
    ),
}


def _fixture_project(root: Path) -> None:
    (root / "models").mkdir(parents=True)
    shutil.copytree(GENERIC_DIR, root / "tests" / "generic")
    shutil.copytree(NEW_ROWS_MACROS, root / "macros" / "tests")
    shutil.copy(BUSINESS_DATE_IN, root / "macros")
    (root / "dbt_project.yml").write_text(
        "name: generic_tests_fixture\nversion: '1.0.0'\nconfig-version: 2\nprofile: medwatch\n"
        "models:\n  generic_tests_fixture:\n    +materialized: view\n")


def _test_outcomes(project: Path, url: str, tmp_path: Path) -> dict[str, tuple[str, int]]:
    """model name -> (status, failures) of its one data test, after a `dbt build` of the fixture."""
    target = tmp_path / "target"
    res = run_dbt(["build", "--project-dir", str(project), "--target-path", str(target),
                   "--log-path", str(target / "logs")], url)
    assert res.exception is None, res.exception
    return {r.node.attached_node.split(".")[-1]: (str(getattr(r.status, "value", r.status)), int(r.failures or 0))
            for r in res.result or [] if r.node.resource_type == "test"}


def _write_project(root: Path) -> None:
    _fixture_project(root)
    models = []
    for name, (args, good, bad, _) in CASES.items():
        for side, sql in (("good", good), ("bad", bad)):
            (root / "models" / f"{side}_{name}.sql").write_text(sql + "\n")
            models.append({"name": f"{side}_{name}", "data_tests": [{name: {"arguments": args}}]})
    (root / "models" / "_models.yml").write_text(yaml.safe_dump({"version": 2, "models": models}))


def test_every_generic_test_has_a_case() -> None:
    assert {p.stem for p in GENERIC_DIR.glob("*.sql")} == set(CASES)


def test_each_generic_test_fails_on_its_violating_rows(tmp_path: Path, make_db) -> None:
    project = tmp_path / "project"
    _write_project(project)
    url = make_db("mfm_gaps_generic")
    target = tmp_path / "target"
    res = run_dbt(["build", "--project-dir", str(project), "--target-path", str(target),
                   "--log-path", str(target / "logs")], url)
    assert res.exception is None, res.exception
    outcome: dict[str, tuple[str, int]] = {}
    for r in res.result or []:
        node = r.node
        if node.resource_type != "test":
            assert str(r.status) == "success", (node.unique_id, r.message)
            continue
        model = node.attached_node.split(".")[-1]
        outcome[model] = (str(getattr(r.status, "value", r.status)), int(r.failures or 0))
    expected = {}
    for name, (_, _, _, n_bad) in CASES.items():
        expected[f"good_{name}"] = ("pass", 0)
        expected[f"bad_{name}"] = ("fail", n_bad)
    assert outcome == expected
    assert not res.success  # the failing tests fail the invocation, as in the pipeline's dbt step


def test_unique_key_of_new_rows_only(tmp_path: Path, make_db) -> None:
    # new_rows='latest_build': the keys of the newest build's rows, each against the whole model;
    # the duplicate among older rows (k 1) was the older build's to report, the new row that
    # repeats an older key (k 2) is this build's
    project = tmp_path / "project"
    _fixture_project(project)
    (project / "models" / "scoped.sql").write_text(
        "select * from (values (1, 1), (1, 1), (2, 1), (2, 2), (3, 2)) as v (k, built_through_load_id)\n")
    test = {"unique_combination_of_columns": {"arguments": {"combination_of_columns": ["k"],
                                                            "new_rows": "latest_build"}}}
    (project / "models" / "_models.yml").write_text(
        yaml.safe_dump({"version": 2, "models": [{"name": "scoped", "data_tests": [test]}]}))
    assert _test_outcomes(project, make_db("mfm_gaps_scoped"), tmp_path) == {"scoped": ("fail", 1)}


def test_where_new_rows_scopes_any_data_test(tmp_path: Path, make_db) -> None:
    # `where: new_rows:<mode>` (macros/tests/new_rows.sql) on a built-in test: the NULL of an
    # older build or of a load the reader already went through is not reported, the new one is
    url = make_db("mfm_gaps_where")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create schema meta; create table meta.load_log (load_id bigint, business_date date);"
                     " insert into meta.load_log values (1, '2024-01-01'), (2, '2024-01-02');"
                     " create schema intermediate; create table intermediate.reader (built_through_load_id bigint);"
                     " insert into intermediate.reader values (1)")
    project = tmp_path / "project"
    _fixture_project(project)
    (project / "models" / "built.sql").write_text(
        "select * from (values (1, null), (2, null), (2, 'a')) as v (built_through_load_id, x)\n")
    (project / "models" / "staged.sql").write_text(
        "select * from (values (date '2024-01-01', 1, null), (date '2024-01-02', 2, null),"
        " (date '2024-01-02', 2, 'a'), (date '2024-01-02', 2, null)) as v (business_date, load_id, x)\n")
    (project / "models" / "unread.sql").write_text(
        "select * from (values (date '2024-01-01', 1, null), (date '2024-01-02', 2, 'a')) as v (business_date, load_id, x)\n")

    def not_null(where: str) -> dict:
        return {"name": "x", "data_tests": [{"not_null": {"config": {"where": where}}}]}

    models = [
        {"name": "built", "columns": [not_null("new_rows:latest_build")]},
        {"name": "staged", "columns": [not_null("new_rows:since:reader")]},
        # no such reader yet (before its first build): every row is new
        {"name": "unread", "columns": [not_null("new_rows:since:int_not_built_yet")]},
    ]
    (project / "models" / "_models.yml").write_text(yaml.safe_dump({"version": 2, "models": models}))
    assert _test_outcomes(project, url, tmp_path) == {
        "built": ("fail", 1), "staged": ("fail", 2), "unread": ("fail", 1)}


@pytest.mark.parametrize("name", sorted(CASES))
def test_case_arguments_are_yaml_of_the_test(name: str) -> None:
    # each case passes the arguments its generic test declares (a renamed argument would break the case)
    sql = (GENERIC_DIR / f"{name}.sql").read_text()
    signature = sql.split(f"{{% test {name}(", 1)[1].split(")", 1)[0]
    params = [a.strip() for a in signature.split(",")]
    declared = {a.split("=")[0] for a in params} - {"model"}
    required = {a for a in params if "=" not in a} - {"model"}
    assert required <= set(CASES[name][0]) <= declared


def _executed_scans(plan: dict) -> set[str]:
    """Relations a JSON EXPLAIN ANALYZE plan actually scanned (loops > 0)."""
    out = {plan["Relation Name"]} if "Relation Name" in plan and plan.get("Actual Loops", 0) > 0 else set()
    for child in plan.get("Plans", []):
        out |= _executed_scans(child)
    return out


def test_business_date_in_prunes_partitions_and_stays_exact(tmp_path: Path, make_db) -> None:
    # macros/business_date_in.sql, the filter of every incremental intermediate model and of the
    # new_rows:since tests: the partitions outside the dates' range are never scanned (run-time
    # pruning needs scalar init plans; `= any(array(...))` alone scanned them all), and a
    # partition inside the range but not among the dates gives no row
    url = make_db("mfm_gaps_pruning")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table daily (business_date date, x int) partition by range (business_date)")
        for day in range(1, 6):
            conn.execute(f"create table daily_d{day} partition of daily for values from ('2024-01-0{day}')"
                         f" to ('2024-01-0{day + 1}')")
            conn.execute(f"insert into daily select '2024-01-0{day}', g from generate_series(1, 100) as g")
        conn.execute("analyze daily")
    project = tmp_path / "project"
    _fixture_project(project)

    def compiled(dates: str) -> str:
        res = run_dbt(["compile", "--project-dir", str(project), "--target-path", str(tmp_path / "target"),
                       "--log-path", str(tmp_path / "target" / "logs"), "--inline",
                       "select business_date, count(*) as n from public.daily where "
                       f"{{{{ business_date_in('business_date', \"{dates}\") }}}} group by 1 order by 1"], url)
        assert res.exception is None and res.success, res.exception or res.result
        return res.result.results[0].node.compiled_code

    some = compiled("select d as business_date from (values (date '2024-01-02'), (date '2024-01-04')) as v (d)")
    none = compiled("select d as business_date from (values (date '2024-01-02')) as v (d) where false")
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute(some).fetchall() == [(date(2024, 1, 2), 100), (date(2024, 1, 4), 100)]
        assert conn.execute(none).fetchall() == []
        plan = conn.execute(f"explain (analyze, format json) {some}").fetchone()[0][0]["Plan"]
    assert _executed_scans(plan) <= {"daily_d2", "daily_d3", "daily_d4"}, _executed_scans(plan)
    assert {"daily_d2", "daily_d4"} <= _executed_scans(plan)
