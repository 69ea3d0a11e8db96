"""reference_refresh end to end: a new catalogue snapshot rebuilds the catalogue and re-evaluates the rules.

A small generated landing (one daily delivery) goes through daily_monitoring;
then a new reference folder arrives whose ref_med_list lowers one item's price
cap below what that day's fee lines charged. `airflow dags test
reference_refresh` must load it, give dim_med_list the new version and make
those lines R09 (price over cap) suspects with the new cap in their evidence,
leaving every other suspect as it was, and re-export the institution's file.
"""

from __future__ import annotations

import csv
import io
import shutil
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import psycopg
import pytest
from _airflow_run import run_dag, task_states

from ingestion.fixtures import write_delivery
from pipeline.exports import read_csv_export

pytestmark = pytest.mark.slow

START, SEED = date(2024, 1, 1), 42
DAY = date(2024, 1, 7)  # the one daily delivery kept
NEW_SNAPSHOT = date(2024, 1, 6)  # valid from before DAY: DAY's lines are priced against it
CENT = Decimal("0.01")
# lines the rules count: not on a cancelled visit (macros/rules/rule_helpers.sql rule_live_fee_lines)
# (a stay's lines date back to admission: only those on or after the new snapshot see its cap)
LIVE = ("NOT EXISTS (SELECT 1 FROM intermediate.int_visits AS v WHERE v.mdtrt_id = fl.mdtrt_id"
        " AND v.fixmedins_code = fl.fixmedins_code AND v.is_cancelled)"
        f" AND fl.fee_date >= '{NEW_SNAPSHOT}'")
SMALL = {"hospitals": 8, "pharmacies": 4, "persons": 1500,
         "per_day": {"outpatient": 60, "pharmacy": 15, "stays": 3}}


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from synthetic.generate import generate

    out = tmp_path_factory.mktemp("landing")
    generate(out, START, 28, seed=SEED, encoding="utf8", params=SMALL, quiet=True)
    for d in (out / "daily").iterdir():
        if d.name != DAY.isoformat():
            shutil.rmtree(d)
    first = min((out / "reference").iterdir())
    for d in (out / "reference").iterdir():
        if d != first:  # later snapshots would change the catalogue on their own
            shutil.rmtree(d)
    return out


def r09(conn: psycopg.Connection) -> dict[tuple, tuple]:
    return {(i, m, s): (a, e) for i, m, s, a, e in conn.execute(
        "SELECT fixmedins_code, mdtrt_id, feedetl_sn, amount, evidence FROM marts.fct_violations"
        " WHERE rule_code = 'R09'").fetchall()}


def others(conn: psycopg.Connection) -> set[tuple]:
    return set(conn.execute("SELECT violation_id, amount FROM marts.fct_violations WHERE rule_code <> 'R09'"))


def write_snapshot(landing: Path, item: str, cap: Decimal) -> None:
    """The catalogue as first delivered, with `item`'s max_pric lowered to `cap`."""
    first = min((landing / "reference").iterdir())
    rows = list(csv.DictReader(io.StringIO((first / "ref_med_list.csv").read_text("utf-8-sig"))))
    assert item in {r["med_list_codg"] for r in rows}
    for r in rows:
        if r["med_list_codg"] == item:
            r["max_pric"] = str(cap)
    write_delivery(landing, "reference", NEW_SNAPSHOT, {"ref_med_list.csv": rows})


def test_new_catalogue_snapshot_moves_price_cap_suspects(landing: Path, tmp_path: Path, make_db) -> None:
    url = make_db("mfm_gaps_refresh")
    home = tmp_path / "airflow"
    rc, out = run_dag(tmp_path, landing, url, "daily_monitoring", DAY, home)
    assert rc == 0, out[-6000:]

    with psycopg.connect(url) as conn:
        before, before_others = r09(conn), others(conn)
        # the dearest line's item that is no R09 suspect yet, on a visit that counts
        item, cap = conn.execute(
            f"SELECT fl.med_list_codg, min(fl.pric) - 0.01 FROM intermediate.int_fee_lines AS fl WHERE {LIVE}"
            " AND fl.pric > 1 AND fl.med_list_codg NOT IN"
            "   (SELECT f.med_list_codg FROM intermediate.int_fee_lines AS f JOIN marts.fct_violations AS x"
            "    USING (fixmedins_code, mdtrt_id, feedetl_sn) WHERE x.rule_code = 'R09')"
            " GROUP BY 1 ORDER BY max(fl.amount) DESC LIMIT 1").fetchone()
        cap = Decimal(cap).quantize(CENT)
        expected_new = {(i, m, s): ((p - cap) * c).quantize(CENT, ROUND_HALF_UP)
                        for i, m, s, p, c in conn.execute(
            "SELECT fl.fixmedins_code, fl.mdtrt_id, fl.feedetl_sn, fl.pric, fl.cnt"
            f" FROM intermediate.int_fee_lines AS fl WHERE {LIVE} AND fl.med_list_codg = %s AND fl.pric > %s",
            (item, cap)).fetchall()}
    assert expected_new and not set(expected_new) & set(before)

    write_snapshot(landing, item, cap)
    rc, out = run_dag(tmp_path, landing, url, "reference_refresh", DAY, home)
    assert rc == 0, out[-6000:]
    states = task_states(home, "reference_refresh")
    assert states["rebuild_catalogue_and_rules"] == "success", states
    assert states["export_hospital_files"] == "success", states

    with psycopg.connect(url) as conn:
        versions = conn.execute(
            "SELECT valid_from, valid_to, max_pric FROM catalogue.dim_med_list WHERE med_list_codg = %s"
            " ORDER BY valid_from", (item,)).fetchall()
        assert versions[-1][0] == NEW_SNAPSHOT and versions[-1][1] is None
        assert Decimal(versions[-1][2]) == cap
        assert versions[-2][1] == NEW_SNAPSHOT  # the previous version ends where the new one begins
        after = r09(conn)
        assert set(after) == set(before) | set(expected_new)
        for k, amount in expected_new.items():
            got_amount, evidence = after[k]
            assert got_amount == amount, k
            assert Decimal(str(evidence["max_pric"])) == cap and evidence["rule_version"] == "1.0.0"
        assert {k: v[0] for k, v in after.items() if k in before} == {k: v[0] for k, v in before.items()}
        assert others(conn) == before_others  # rules that do not read the price cap did not move
        summary = conn.execute("SELECT status, deliveries_loaded FROM meta.run_summary"
                               " WHERE dag_id = 'reference_refresh'").fetchall()
        assert summary == [("success", 1)]
        ids = {vid for (vid,) in conn.execute(
            "SELECT violation_id FROM marts.fct_violations WHERE rule_code = 'R09' AND feedetl_sn IS NOT NULL"
            " AND (fixmedins_code, mdtrt_id, feedetl_sn) IN (SELECT * FROM unnest(%s::text[], %s::text[], %s::text[]))",
            ([k[0] for k in expected_new], [k[1] for k in expected_new], [k[2] for k in expected_new])).fetchall()}
    assert len(ids) == len(expected_new)
    month = DAY.strftime("%Y-%m")
    exported = {r["violation_id"] for inst in {k[0] for k in expected_new}
                for r in read_csv_export(tmp_path / "exports" / month / inst / f"suspects_{inst}_{month}.csv")}
    assert ids <= exported, "the re-export must carry the new suspects"
