"""dbt staging, catalogue and intermediate models on hand-made rows (real PostgreSQL, real dbt).

One scenario runs through the whole module (module-scoped database): reference
snapshots with a changed, a removed and a returning item; three daily folders
with refunds and a settlement reversal delivered on later days; then a
corrected re-delivery that drops a refund and a reversal; a build with nothing
new, a new reference snapshot, a fourth day refunding a day-1 line and its
corrected re-delivery without that refund. Each step runs dbt incrementally;
at the end a --full-refresh must give identical tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ingestion.contract import KINDS
from ingestion.schema import ensure_schema
from pipeline.dbt_cli import run_dbt

SELECT = ["--select", "path:models/staging path:models/catalogue path:models/intermediate"]

H1 = "H33020300001"
H2 = "H33020300002"
P1 = "P33020300001"
D1 = "D330203000001"
Y1 = "Y330203000001"


# --------------------------------------------------------------------------- helpers

def _ledger(conn: psycopg.Connection, section: str, day: str, kind: str) -> int:
    row = conn.execute(
        "INSERT INTO meta.load_log (section, business_date, kind, status, finished_at)"
        " VALUES (%s, %s, %s, 'loaded', now()) RETURNING load_id",
        (section, day, kind),
    ).fetchone()
    assert row is not None
    return int(row[0])


def deliver(conn: psycopg.Connection, kind_name: str, day: str, rows: Sequence[dict[str, Any]]) -> None:
    """Replace the rows folder `day` delivered for a kind (as the loader does), with a ledger entry."""
    kind = KINDS[kind_name]
    section = kind.section
    with conn.transaction():
        load_id = _ledger(conn, section, day, kind_name)
        date_col = "business_date" if section == "daily" else "snapshot_date"
        if section == "daily":
            part = f"staging.{kind_name}_p{day.replace('-', '')}"
            conn.execute(f"CREATE TABLE IF NOT EXISTS {part} PARTITION OF {kind.table} FOR VALUES IN ('{day}')")
        conn.execute(f"DELETE FROM {kind.table} WHERE {date_col} = %s", (day,))
        cols = list(kind.columns)
        for line, row in enumerate(rows, start=1):
            unknown = set(row) - set(cols)
            assert not unknown, unknown
            values = [row.get(c) for c in cols]
            conn.execute(
                f"INSERT INTO {kind.table} ({date_col}, {', '.join(cols)}, source_file, source_line, load_id)"
                f" VALUES (%s, {', '.join(['%s'] * len(cols))}, %s, %s, %s)",
                [day, *values, f"{kind_name}.csv", line, load_id],
            )


def dbt(url: str, target: Path, *args: str, command: str = "build") -> None:
    res = run_dbt([command, *SELECT, "--target-path", str(target), "--log-path", str(target / "logs"), *args], url)
    assert res.success, f"dbt {command} {' '.join(args)} failed: {res.exception or ''}"


def rows(conn: psycopg.Connection, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    return conn.execute(sql, params).fetchall()


def fee(sn: str, mdtrt: str, psn: str, inst: str, item: str, cnt: str, pric: str, amt: str, *,
        time: str, med_type: str = "11", list_type: str = "101", init: str | None = None,
        prd_days: int | None = None, rxno: str | None = None, dr: str | None = D1) -> dict[str, Any]:
    return {
        "feedetl_sn": sn, "init_feedetl_sn": init, "mdtrt_id": mdtrt, "psn_no": psn, "fixmedins_code": inst,
        "med_type": med_type, "fee_ocur_time": time, "med_list_codg": item, "list_type": list_type,
        "cnt": cnt, "pric": pric, "det_item_fee_sumamt": amt, "bilg_dept_codg": "IM01",
        "bilg_dept_name": "内科", "bilg_dr_codg": dr, "bilg_dr_name": "王医生", "rxno": rxno,
        "prd_days": prd_days,
    }


def setl(setl_id: str, mdtrt: str, psn: str, inst: str, fund: str, medfee: str, *, time: str,
         med_type: str = "11", init: str | None = None) -> dict[str, Any]:
    return {
        "setl_id": setl_id, "mdtrt_id": mdtrt, "psn_no": psn, "fixmedins_code": inst, "insutype": "310",
        "med_type": med_type, "setl_time": time, "medfee_sumamt": medfee, "fund_pay_sumamt": fund,
        "hifp_pay": fund, "acct_pay": "0", "psn_cash_pay": str(Decimal(medfee) - Decimal(fund)),
        "refd_setl_flag": "1" if init else "0", "init_setl_id": init,
    }


def visit(mdtrt: str, psn: str, inst: str, begin: str, *, end: str | None = None, med_type: str = "11",
          dise: str | None = "I10.X00") -> dict[str, Any]:
    return {
        "mdtrt_id": mdtrt, "psn_no": psn, "fixmedins_code": inst, "med_type": med_type, "insutype": "310",
        "begntime": begin, "endtime": end, "dept_codg": "im01", "dept_name": "内科", "atddr_no": D1,
        "dise_codg": dise, "dise_name": "诊断",
    }


MED_LIST_V1 = [
    {"med_list_codg": "X01", "med_list_name": "阿莫西林", "list_type": "101", "chrgitm_lv": "1", "max_pric": "10",
     "lmt_dise_codes": "J| I10 ", "max_days": 7},
    {"med_list_codg": "X02", "med_list_name": "诊查费", "list_type": "201", "chrgitm_lv": "1"},
    {"med_list_codg": "X03", "med_list_name": "胰岛素", "list_type": "101", "chrgitm_lv": "2", "lmt_gend": "2"},
]
PSN_V1 = [
    {"psn_no": "PSN1", "certno": "33020319900101123x", "psn_name": "张三", "gend": "1", "brdy": "1990-01-01",
     "insutype": "310"},
    {"psn_no": "PSN2", "certno": "330203198502021234", "psn_name": "欧阳娜娜", "gend": "2", "brdy": "1985-02-02",
     "insutype": "390"},
]


def load_reference(conn: psycopg.Connection) -> None:
    # 2024-01-01: every catalogue, complete
    deliver(conn, "ref_medins", "2024-01-01", [
        {"fixmedins_code": H1, "fixmedins_name": "第一医院", "fixmedins_type": "1", "hosp_lv": "3",
         "admdvs": "330203", "begn_date": "2020-01-01"},
        {"fixmedins_code": H2, "fixmedins_name": "第二医院", "fixmedins_type": "1", "hosp_lv": "2",
         "admdvs": "330203", "begn_date": "2020-01-01", "end_date": "2024-02-29"},
        {"fixmedins_code": P1, "fixmedins_name": "大药房", "fixmedins_type": "2", "hosp_lv": "9",
         "admdvs": "330203", "begn_date": "2020-01-01"},
    ])
    deliver(conn, "ref_med_list", "2024-01-01", MED_LIST_V1)
    deliver(conn, "ref_psn", "2024-01-01", PSN_V1)
    deliver(conn, "ref_practitioner", "2024-01-01", [
        {"prac_codg": D1, "prac_name": "王五", "prac_type": "1", "fixmedins_code": H1, "dept_codg": "IM01",
         "begn_date": "2020-01-01"},
        {"prac_codg": Y1, "prac_name": "赵六", "prac_type": "2", "fixmedins_code": P1, "begn_date": "2020-01-01"},
    ])
    deliver(conn, "ref_psn_special_dise", "2024-01-01", [
        {"psn_no": "PSN1", "dise_type": "dialysis", "dise_codg": "N18.500", "begn_date": "2023-06-01"},
    ])
    deliver(conn, "ref_disease", "2024-01-01", [
        {"dise_codg": "I10.X00", "dise_name": "原发性高血压", "chapter": "IX"},
        {"dise_codg": "J18.900", "dise_name": "肺炎", "chapter": "X"},
    ])
    # 2024-02-01: only the drug list and the persons changed: X01's price cap
    # rises, X03 leaves; PSN1's death becomes known
    deliver(conn, "ref_med_list", "2024-02-01",
            [{**MED_LIST_V1[0], "max_pric": "12"}, MED_LIST_V1[1]])
    deliver(conn, "ref_psn", "2024-02-01", [{**PSN_V1[0], "death_date": "2024-03-05"}, PSN_V1[1]])
    # 2024-02-15: X03 returns (a gap in its history)
    deliver(conn, "ref_med_list", "2024-02-15",
            [{**MED_LIST_V1[0], "max_pric": "12"}, MED_LIST_V1[1], MED_LIST_V1[2]])


def load_day1(conn: psycopg.Connection) -> None:
    d = "2024-03-01"
    deliver(conn, "his_mdtrt", d, [
        visit("V1", "PSN1", H1, "2024-03-01 09:00:00", end="2024-03-01 09:00:00", dise=" i10.x00 "),
        visit("V2", "PSN2", H1, "2024-03-01 10:00:00", dise="J18.900"),
    ])
    deliver(conn, "his_diag", d, [
        {"mdtrt_id": "V1", "diag_type": "1", "diag_srt_no": 1, "diag_code": "I10.X00", "maindiag_flag": "1"},
        {"mdtrt_id": "V1", "diag_type": "1", "diag_srt_no": 2, "diag_code": "e11.900", "maindiag_flag": "0"},
    ])
    deliver(conn, "his_feedetail", d, [
        fee("L001", "V1", "PSN1", H1, "x01", "2", "5", "10", time="2024-03-01 09:10:00", prd_days=5),
        fee("L002", "V1", "PSN1", H1, "X02", "1", "20", "20", time="2024-03-01 09:20:00", list_type="201"),
        fee("L001", "V2", "PSN2", H1, "X01", "3", "5", "15", time="2024-03-01 10:10:00", prd_days=3),
    ])
    deliver(conn, "pharmacy_sales", d, [
        fee("0001", "S1", "PSN1", P1, "X01", "1", "5", "5", time="2024-03-01 15:00:00", med_type="41",
            prd_days=10, dr=Y1),
        fee("0002", "S1", "PSN1", P1, "X03", "2", "4", "8", time="2024-03-01 15:00:00", med_type="41",
            prd_days=30, dr=Y1),
    ])
    deliver(conn, "setl", d, [
        setl("ST1", "V1", "PSN1", H1, "25", "30", time="2024-03-01 09:30:00"),
        setl("ST2", "V2", "PSN2", H1, "12", "15", time="2024-03-01 10:30:00"),
        setl("STP1", "S1", "PSN1", P1, "8", "13", time="2024-03-01 15:01:00", med_type="41"),
    ])


def his_day2_lines(with_partial_refund: bool) -> list[dict[str, Any]]:
    lines = [
        # a stay from 2024-02-27 to 2024-03-02: its lines are dated back to admission
        fee("L001", "V3", "PSN2", H1, "X02", "1", "50", "50", time="2024-02-27 12:00:00", med_type="21",
            list_type="201"),
        fee("L002", "V3", "PSN2", H1, "X01", "2", "6", "12", time="2024-03-01 08:00:00", med_type="21",
            prd_days=5),
        # refunds of day-1 lines: L002 of V1 in full
        fee("R002", "V1", "PSN1", H1, "X02", "-1", "20", "-20", time="2024-03-02 08:00:00", list_type="201",
            init="L002"),
    ]
    if with_partial_refund:
        lines.append(fee("R001", "V1", "PSN1", H1, "X01", "-1", "5", "-5", time="2024-03-02 08:00:00",
                         init="L001", prd_days=5))
    return lines


def setl_day2(with_reversal: bool) -> list[dict[str, Any]]:
    out = [setl("ST3", "V3", "PSN2", H1, "1000", "1200", time="2024-03-02 11:00:00", med_type="21")]
    if with_reversal:
        out.append(setl("ST2R", "V2", "PSN2", H1, "-12", "-15", time="2024-03-02 09:00:00", init="ST2"))
    return out


def load_new_disease_snapshot(conn: psycopg.Connection) -> None:
    # 2024-03-03: a complete ref_disease, J18.900 renamed; the other kinds are not delivered
    deliver(conn, "ref_disease", "2024-03-03", [
        {"dise_codg": "I10.X00", "dise_name": "原发性高血压", "chapter": "IX"},
        {"dise_codg": "J18.900", "dise_name": "肺炎,未特指", "chapter": "X"},
    ])


def his_day4_lines(with_refund: bool) -> list[dict[str, Any]]:
    lines = [fee("L001", "V5", "PSN2", H1, "X02", "1", "20", "20", time="2024-03-04 09:10:00", list_type="201")]
    if with_refund:
        # a refund of a day-1 line three days later: only V1's rows of 2024-03-01 may change
        lines.append(fee("R003", "V1", "PSN1", H1, "X01", "-1", "5", "-5", time="2024-03-04 10:00:00",
                         init="L001", prd_days=5))
    return lines


def load_day4(conn: psycopg.Connection) -> None:
    d = "2024-03-04"
    deliver(conn, "his_mdtrt", d, [visit("V5", "PSN2", H1, "2024-03-04 09:00:00")])
    deliver(conn, "his_feedetail", d, his_day4_lines(with_refund=True))
    deliver(conn, "setl", d, [setl("ST5", "V5", "PSN2", H1, "15", "20", time="2024-03-04 09:30:00")])


def load_days_2_3(conn: psycopg.Connection) -> None:
    d2, d3 = "2024-03-02", "2024-03-03"
    deliver(conn, "his_mdtrt", d2, [
        visit("V3", "PSN2", H1, "2024-02-27 10:00:00", end="2024-03-02 10:00:00", med_type="21", dise="J18.900"),
    ])
    deliver(conn, "his_feedetail", d2, his_day2_lines(with_partial_refund=True))
    deliver(conn, "pharmacy_sales", d2, [
        fee("R002", "S1", "PSN1", P1, "X03", "-2", "4", "-8", time="2024-03-02 09:00:00", med_type="41",
            init="0002", prd_days=30, dr=Y1),
    ])
    deliver(conn, "setl", d2, setl_day2(with_reversal=True))
    deliver(conn, "his_mdtrt", d3, [visit("V4", "PSN1", H1, "2024-03-03 09:00:00")])
    deliver(conn, "his_feedetail", d3, [
        fee("L001", "V4", "PSN1", H1, "X02", "1", "20", "20", time="2024-03-03 09:10:00", list_type="201"),
        # a refund of a day-1 line two days later
        fee("R001", "V2", "PSN2", H1, "X01", "-1", "5", "-5", time="2024-03-03 10:00:00", init="L001", prd_days=3),
    ])
    deliver(conn, "setl", d3, [setl("ST4", "V4", "PSN1", H1, "15", "20", time="2024-03-03 09:30:00")])


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    from warehouse.embedded import resolve_warehouse_url
    from warehouse.testing import create_database, drop_database

    server = resolve_warehouse_url()
    url = create_database(server, "mfm_dbt_models")
    with psycopg.connect(url) as conn:
        ensure_schema(conn)
    try:
        yield url, tmp_path_factory.mktemp("dbt_target")
    finally:
        drop_database(server, url)


@pytest.fixture(scope="module")
def conn(warehouse: tuple[str, Path]) -> Iterator[psycopg.Connection]:
    with psycopg.connect(warehouse[0], autocommit=True) as c:
        yield c


@pytest.fixture(scope="module")
def step(warehouse: tuple[str, Path], conn: psycopg.Connection) -> Callable[[str], None]:
    """Run the scenario up to a named step (each step once, in order)."""
    url, target = warehouse
    done: list[str] = []
    steps: list[tuple[str, Callable[[], None]]] = [
        ("day1", lambda: (load_reference(conn), load_day1(conn), dbt(url, target, command="run"))),
        ("days23", lambda: (load_days_2_3(conn), dbt(url, target, command="run"))),
        ("redelivery", lambda: (
            deliver(conn, "his_feedetail", "2024-03-02", his_day2_lines(with_partial_refund=False)),
            deliver(conn, "setl", "2024-03-02", setl_day2(with_reversal=False)),
            dbt(url, target),
        )),
        ("noop", lambda: dbt(url, target)),
        ("new_snapshot", lambda: (load_new_disease_snapshot(conn), dbt(url, target))),
        ("day4", lambda: (load_day4(conn), dbt(url, target))),
        ("day4_redelivery", lambda: (
            deliver(conn, "his_feedetail", "2024-03-04", his_day4_lines(with_refund=False)),
            dbt(url, target),
        )),
    ]

    def run(name: str) -> None:
        for step_name, action in steps:
            if step_name not in done:
                action()
                done.append(step_name)
            if step_name == name:
                return
        raise KeyError(name)

    return run


def fee_line(conn: psycopg.Connection, inst: str, mdtrt: str, sn: str) -> tuple[Any, ...] | None:
    found = rows(conn, "SELECT cnt, amount, business_date FROM intermediate.int_fee_lines"
                       " WHERE fixmedins_code = %s AND mdtrt_id = %s AND feedetl_sn = %s", inst, mdtrt, sn)
    return found[0] if found else None


def visit_row(conn: psycopg.Connection, mdtrt: str) -> dict[str, Any]:
    cur = conn.execute("SELECT * FROM intermediate.int_visits WHERE mdtrt_id = %s", (mdtrt,))
    names = [d.name for d in cur.description or []]
    found = cur.fetchall()
    assert len(found) == 1, found
    return dict(zip(names, found[0], strict=True))


# --------------------------------------------------------------------------- tests

def test_staging_cleans_codes_and_masks_people(step: Callable[[str], None], conn: psycopg.Connection) -> None:
    step("day1")
    assert rows(conn, "SELECT main_dise_codg, dept_codg FROM stg.stg_his_mdtrt WHERE mdtrt_id = 'V1'") == [
        ("I10.X00", "IM01")]
    assert rows(conn, "SELECT certno, psn_name FROM stg.stg_ref_psn WHERE psn_no = 'PSN1' ORDER BY snapshot_date"
                ) == [("330203********123X", "张*")] * 2
    assert rows(conn, "SELECT DISTINCT certno, psn_name FROM catalogue.dim_person WHERE psn_no = 'PSN2'") == [
        ("330203********1234", "欧***")]
    # the raw value exists only in the staging schema
    assert rows(conn, "SELECT count(*) FROM staging.ref_psn WHERE certno = '33020319900101123x'") == [(2,)]


def test_catalogue_history_as_of_date(step: Callable[[str], None], conn: psycopg.Connection) -> None:
    step("day1")
    got = rows(conn, "SELECT med_list_codg, max_pric, valid_from, valid_to FROM catalogue.dim_med_list"
                     " ORDER BY med_list_codg, valid_from")
    assert got == [
        ("X01", Decimal("10.000000"), date(2024, 1, 1), date(2024, 2, 1)),
        ("X01", Decimal("12.000000"), date(2024, 2, 1), None),
        ("X02", None, date(2024, 1, 1), None),  # unchanged across snapshots: one version
        ("X03", None, date(2024, 1, 1), date(2024, 2, 1)),  # left the catalogue...
        ("X03", None, date(2024, 2, 15), None),  # ...and came back
    ]
    as_of = rows(conn, "SELECT max_pric FROM catalogue.dim_med_list WHERE med_list_codg = 'X01'"
                       " AND valid_from <= %s AND (valid_to IS NULL OR %s < valid_to)", date(2024, 1, 31),
                 date(2024, 1, 31))
    assert as_of == [(Decimal("10.000000"),)]
    assert rows(conn, "SELECT lmt_dise_prefixes FROM catalogue.dim_med_list WHERE med_list_codg = 'X01'"
                      " AND valid_to IS NULL") == [(["J", "I10"],)]
    # ref_medins is absent from the later folders: unchanged, one open version each
    assert rows(conn, "SELECT count(*), count(*) FILTER (WHERE valid_to IS NULL) FROM catalogue.dim_institution"
                ) == [(3, 3)]
    # death_date: versioned as delivered, latest_death_date on every version (R14)
    assert rows(conn, "SELECT death_date, latest_death_date, valid_from FROM catalogue.dim_person"
                      " WHERE psn_no = 'PSN1' ORDER BY valid_from") == [
        (None, date(2024, 3, 5), date(2024, 1, 1)), (date(2024, 3, 5), date(2024, 3, 5), date(2024, 2, 1))]
    assert rows(conn, "SELECT dise_type FROM catalogue.dim_special_disease_registration") == [("DIALYSIS",)]
    assert rows(conn, "SELECT dise_category FROM catalogue.dim_disease ORDER BY 1") == [("I10",), ("J18",)]


def test_day1_lines_and_visits(step: Callable[[str], None], conn: psycopg.Connection) -> None:
    step("day1")
    assert fee_line(conn, H1, "V1", "L001") == (Decimal("2.0000"), Decimal("10.00"), date(2024, 3, 1))
    v1 = visit_row(conn, "V1")
    assert v1["diag_codes"] == ["I10.X00", "E11.900"]  # main first, duplicates once
    assert (v1["fund_amount"], v1["is_cancelled"], v1["visit_date"]) == (Decimal("25.00"), False, date(2024, 3, 1))
    assert rows(conn, "SELECT fixmedins_code, dept_codg, dept_name, valid_from, valid_to"
                      " FROM catalogue.dim_department") == [(H1, "IM01", "内科", date(2024, 3, 1), None)]
    s1 = visit_row(conn, "S1")
    assert (s1["visit_source"], s1["med_type"], s1["fund_amount"], s1["diag_codes"]) == (
        "pharmacy", "41", Decimal("8.00"), [])


def test_refunds_delivered_later_net_the_original(step: Callable[[str], None], conn: psycopg.Connection) -> None:
    step("days23")
    assert fee_line(conn, H1, "V1", "L001") == (Decimal("1.0000"), Decimal("5.00"), date(2024, 3, 1))
    assert fee_line(conn, H1, "V1", "L002") is None  # refunded in full: gone
    assert fee_line(conn, H1, "V2", "L001") == (Decimal("2.0000"), Decimal("10.00"), date(2024, 3, 1))
    assert fee_line(conn, P1, "S1", "0002") is None
    # refund lines are never rows themselves
    assert rows(conn, "SELECT count(*) FROM intermediate.int_fee_lines WHERE feedetl_sn LIKE 'R%%'") == [(0,)]
    assert rows(conn, "SELECT count(*) FROM intermediate.int_fee_lines") == [(6,)]


def test_reversal_cancels_visit_and_stays(step: Callable[[str], None], conn: psycopg.Connection) -> None:
    step("days23")
    v2 = visit_row(conn, "V2")
    assert (v2["fund_amount"], v2["is_cancelled"], v2["business_date"]) == (Decimal("0.00"), True, date(2024, 3, 1))
    assert visit_row(conn, "V1")["is_cancelled"] is False
    assert rows(conn, "SELECT mdtrt_id, business_date, admission_date, discharge_date, dise_category, fund_amount"
                      " FROM intermediate.int_inpatient_stays") == [
        ("V3", date(2024, 3, 2), date(2024, 2, 27), date(2024, 3, 2), "J18", Decimal("1000.00"))]
    assert rows(conn, "SELECT fee_date FROM intermediate.int_fee_lines WHERE mdtrt_id = 'V3' ORDER BY 1") == [
        (date(2024, 2, 27),), (date(2024, 3, 1),)]
    assert rows(conn, "SELECT mdtrt_id, dispense_date, prd_days, coverage_end_date FROM"
                      " intermediate.int_dispensings WHERE fixmedins_code = %s", P1) == [
        ("S1", date(2024, 3, 1), 10, date(2024, 3, 11))]


def test_redelivery_that_drops_a_refund_and_a_reversal(step: Callable[[str], None],
                                                        conn: psycopg.Connection) -> None:
    step("redelivery")
    assert fee_line(conn, H1, "V1", "L001") == (Decimal("2.0000"), Decimal("10.00"), date(2024, 3, 1))
    assert fee_line(conn, H1, "V1", "L002") is None  # its refund is still delivered
    v2 = visit_row(conn, "V2")
    assert (v2["fund_amount"], v2["is_cancelled"]) == (Decimal("12.00"), False)


# every table the catalogue and intermediate layers write, with its key
LAYER_TABLES = {
    "intermediate.int_fee_line_netting": "line_source, fixmedins_code, mdtrt_id, feedetl_sn",
    "intermediate.int_visits": "mdtrt_id",
    "intermediate.int_department_daily_names": "fixmedins_code, dept_codg, business_date",
    "catalogue.dim_department": "fixmedins_code, dept_codg, valid_from",
    "catalogue.dim_med_list": "med_list_codg, valid_from",
    "catalogue.dim_institution": "fixmedins_code, valid_from",
    "catalogue.dim_practitioner": "prac_codg, valid_from",
    "catalogue.dim_person": "psn_no, valid_from",
    "catalogue.dim_special_disease_registration": "psn_no, dise_type, valid_from",
    "catalogue.dim_disease": "dise_codg, valid_from",
}
COMPARED = LAYER_TABLES
SNAPSHOT_DIMS = [t for t in LAYER_TABLES if t.startswith("catalogue.") and t != "catalogue.dim_department"]


def row_versions(conn: psycopg.Connection, table: str, where: str = "true") -> dict[tuple[Any, ...], str]:
    """Key -> xmin of each row: a row the build rewrote (or deleted and inserted again) gets a new xmin."""
    key = LAYER_TABLES[table]
    return {tuple(r[:-1]): r[-1] for r in rows(conn, f"SELECT {key}, xmin::text FROM {table} WHERE {where}")}


def watermark(conn: psycopg.Connection, table: str) -> set[int]:
    return {r[0] for r in rows(conn, f"SELECT DISTINCT built_through_load_id FROM {table}")}


def rewritten(before: dict[tuple[Any, ...], str], after: dict[tuple[Any, ...], str]) -> set[tuple[Any, ...]]:
    """Keys inserted, deleted or rewritten between two row_versions()."""
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


def test_noop_build_rewrites_nothing(step: Callable[[str], None], conn: psycopg.Connection) -> None:
    step("redelivery")
    before = {t: row_versions(conn, t) for t in LAYER_TABLES if t != "catalogue.dim_department"}
    marks = {t: watermark(conn, t) for t in SNAPSHOT_DIMS}
    assert all(len(m) == 1 for m in marks.values()), marks  # one build wrote each dim whole
    step("noop")
    for table, versions in before.items():
        assert versions and rewritten(versions, row_versions(conn, table)) == set(), table
    assert {t: watermark(conn, t) for t in SNAPSHOT_DIMS} == marks


def test_new_reference_snapshot_rebuilds_its_dim_only(step: Callable[[str], None], conn: psycopg.Connection) -> None:
    step("noop")
    before = {t: row_versions(conn, t) for t in SNAPSHOT_DIMS}
    marks = {t: watermark(conn, t) for t in SNAPSHOT_DIMS}
    step("new_snapshot")
    assert rows(conn, "SELECT dise_name, valid_from, valid_to, is_current FROM catalogue.dim_disease"
                      " WHERE dise_codg = 'J18.900' ORDER BY valid_from") == [
        ("肺炎", date(2024, 1, 1), date(2024, 3, 3), False), ("肺炎,未特指", date(2024, 3, 3), None, True)]
    (new_mark,) = watermark(conn, "catalogue.dim_disease")
    assert new_mark > max(marks["catalogue.dim_disease"])
    for table in SNAPSHOT_DIMS:
        if table != "catalogue.dim_disease":
            assert rewritten(before[table], row_versions(conn, table)) == set(), table
            assert watermark(conn, table) == marks[table], table


EARLIER = "business_date < '2024-03-04'"


def test_late_refund_rewrites_only_its_original(step: Callable[[str], None], conn: psycopg.Connection) -> None:
    step("new_snapshot")
    lines = row_versions(conn, "intermediate.int_fee_line_netting", EARLIER)
    visits = row_versions(conn, "intermediate.int_visits", EARLIER)
    step("day4")
    assert fee_line(conn, H1, "V1", "L001") == (Decimal("1.0000"), Decimal("5.00"), date(2024, 3, 1))
    assert fee_line(conn, H1, "V5", "L001") == (Decimal("1.0000"), Decimal("20.00"), date(2024, 3, 4))
    # of the earlier dates only the refunded visit's lines (refreshed by key), no visit at all
    assert rewritten(lines, row_versions(conn, "intermediate.int_fee_line_netting", EARLIER)) == {
        ("his", H1, "V1", "L001"), ("his", H1, "V1", "L002")}
    assert rewritten(visits, row_versions(conn, "intermediate.int_visits", EARLIER)) == set()


def test_redelivery_without_the_late_refund_restores_the_original(step: Callable[[str], None],
                                                                  conn: psycopg.Connection) -> None:
    step("day4")
    lines = row_versions(conn, "intermediate.int_fee_line_netting", EARLIER)
    step("day4_redelivery")
    assert fee_line(conn, H1, "V1", "L001") == (Decimal("2.0000"), Decimal("10.00"), date(2024, 3, 1))
    assert fee_line(conn, H1, "V5", "L001") == (Decimal("1.0000"), Decimal("20.00"), date(2024, 3, 4))
    assert rewritten(lines, row_versions(conn, "intermediate.int_fee_line_netting", EARLIER)) == {
        ("his", H1, "V1", "L001"), ("his", H1, "V1", "L002")}


def _snapshot(conn: psycopg.Connection, table: str, order: str) -> list[tuple[Any, ...]]:
    cols = [r[0] for r in rows(conn, "SELECT column_name FROM information_schema.columns WHERE"
                                     " table_schema || '.' || table_name = %s AND column_name <> "
                                     "'built_through_load_id' ORDER BY column_name", table)]
    return rows(conn, f"SELECT {', '.join(cols)} FROM {table} ORDER BY {order}")


def test_incremental_equals_full_refresh(step: Callable[[str], None], conn: psycopg.Connection,
                                         warehouse: tuple[str, Path]) -> None:
    step("day4_redelivery")
    incremental = {t: _snapshot(conn, t, o) for t, o in COMPARED.items()}
    assert all(incremental.values())
    dbt(*warehouse, "--full-refresh")
    full = {t: _snapshot(conn, t, o) for t, o in COMPARED.items()}
    for table in COMPARED:
        diff = [(a, b) for a, b in zip(incremental[table], full[table], strict=False) if a != b]
        assert not diff and len(incremental[table]) == len(full[table]), (table, diff[:2])
