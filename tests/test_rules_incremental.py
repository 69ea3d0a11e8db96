"""Incremental audit rules (and fct_visits): day-by-day builds equal a full rebuild.

The synthetic generator's deliveries for 34 days (a month boundary inside):
the first 28 days are loaded and built in full, then each later day is
delivered, loaded and built on its own, as the daily DAG does. Every rule must
take its incremental path (meta.rule_build_state), and the result must equal
both the generator's ground truth (recall and precision 1.0 per rule) and a
`--full-refresh` of the rules, row for row (amounts and evidence included);
marts.fct_violations' visit twin, marts.fct_visits, too.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from test_e2e_rules import compare, found_suspects, ground_truth

from pipeline.dbt_cli import run_dbt

pytestmark = pytest.mark.slow

DAYS = 34
FIRST_BUILD_DAYS = 28
DBT_PRIVATE = ["--target-path", "target_test_rules_incr", "--log-path", "target_test_rules_incr/logs"]
RULE_ROWS = (
    "SELECT rule_code, business_date, period_start, fixmedins_code, dept_codg, prac_codg, psn_no, mdtrt_id,"
    " feedetl_sn, rxno, amount, evidence::text, violation_id FROM marts.fct_violations ORDER BY violation_id"
)
VISIT_ROWS = "SELECT * FROM marts.fct_visits ORDER BY fixmedins_code, mdtrt_id"


def _dbt(url: str, *args: str) -> None:
    res = run_dbt([*args, *DBT_PRIVATE], warehouse_url=url)
    assert res.success, f"dbt {' '.join(args)} failed: {res.exception or res.result}"


def _modes(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT model_name, refresh_mode FROM meta.rule_build_state").fetchall())


@pytest.fixture(scope="module")
def daily_builds(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, list]]:
    from ingestion.loader import load_pending
    from synthetic.generate import generate
    from warehouse.testing import create_database, drop_database

    landing = tmp_path_factory.mktemp("landing_rules_incr")
    held = tmp_path_factory.mktemp("held_days")
    generate(landing, start="2024-01-01", days=DAYS, seed=11, encoding="utf8", quiet=True)
    later = sorted((landing / "daily").iterdir())[FIRST_BUILD_DAYS:]
    for folder in later:
        shutil.move(folder, held / folder.name)
    url = create_database(server_url, "mfm_test_rules_incr")
    load_pending(landing, conn_url=url)
    _dbt(url, "seed")
    _dbt(url, "run", "--select", "+fct_violations", "+fct_visits")
    modes = []
    for folder in later:
        shutil.move(held / folder.name, folder)
        loads = load_pending(landing, conn_url=url)
        assert loads and all(r.status == "loaded" for r in loads), [r.summary() for r in loads]
        _dbt(url, "run", "--select", "+fct_violations", "+fct_visits")
        modes.append((folder.name, _modes(url)))
    yield landing, url, modes
    drop_database(server_url, url)


def test_every_daily_build_is_incremental(daily_builds: tuple[Path, str, list]) -> None:
    _, _, modes = daily_builds
    assert len(modes) == DAYS - FIRST_BUILD_DAYS
    for day, by_rule in modes:
        assert len(by_rule) == 17 and "fct_visits" in by_rule, by_rule
        assert set(by_rule.values()) == {"incremental"}, (day, by_rule)


def test_daily_builds_equal_ground_truth(daily_builds: tuple[Path, str, list]) -> None:
    landing, url, _ = daily_builds
    mismatches = compare(ground_truth(landing), found_suspects(url))
    assert not mismatches, f"recall/precision below 1.0 after incremental days: {dict(mismatches)}"


def test_daily_builds_equal_a_full_rebuild(daily_builds: tuple[Path, str, list]) -> None:
    _, url, _ = daily_builds
    with psycopg.connect(url) as conn:
        incremental = conn.execute(RULE_ROWS).fetchall()
        incremental_visits = conn.execute(VISIT_ROWS).fetchall()
    _dbt(url, "run", "--select", "rules", "fct_violations", "fct_visits", "--full-refresh")
    assert set(_modes(url).values()) == {"full"}
    with psycopg.connect(url) as conn:
        full = conn.execute(RULE_ROWS).fetchall()
        full_visits = conn.execute(VISIT_ROWS).fetchall()
    assert len(full) > 0 and len(full_visits) > 0
    assert incremental == full
    assert incremental_visits == full_visits
