"""Monitoring marts on hand-written upstream rows, built by real dbt on a fresh database.

dbt's own data tests (keys, non-negative amounts, rank continuity) and unit
tests (MoM/YoY, ranking ties, z-scores, physician points) run inside the build
(tests/_marts_fixture.py); here the built marts are checked against figures
computed by hand from the rows in _marts_fixture.py.
"""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest
from _marts_fixture import DOC1, H1, H2, H3, P1, PERSONS, marts_database

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def conn(server_url: str):
    with psycopg.connect(marts_database(server_url)) as c:
        yield c


def one(conn: psycopg.Connection, query: str, params: tuple = ()) -> tuple:
    row = conn.execute(query, params).fetchone()
    assert row is not None, query
    return row


def test_institution_month_indicators(conn: psycopg.Connection) -> None:
    # H1, Jan 2024: V01 100 + V02 200 + stay V03 5000 (Jan 3-8); P001 twice, P002 once
    row = one(conn, """
        select visits, persons, visits_per_person, total_fee, fund_pay, fund_pay_ratio, avg_fee_per_visit,
               inpatient_stays, avg_stay_days, fee_per_stay, drug_fee, drug_share, herbal_fee, herbal_share,
               violation_count, suspect_amount, deduct_count, deduct_amount, hospital_review_count,
               hospital_review_amount, pending_review_count, fixmedins_name, hosp_lv, admdvs
        from marts.mart_institution_monthly where fixmedins_code = %s and stat_month = '2024-01-01'""", (H1,))
    assert row == (
        3, 2, Decimal("1.5000"), Decimal("5300.00"), Decimal("4180.00"), Decimal("0.7887"), Decimal("1766.67"),
        1, Decimal("5.00"), Decimal("5000.00"), Decimal("2110.00"), Decimal("0.3981"), Decimal("50.00"),
        Decimal("0.0094"), 2, Decimal("50.00"), 1, Decimal("20.00"), 1, Decimal("30.00"), 0, "甲医院", "3", "330203",
    )


def test_cancelled_visits_and_stays_by_discharge_month(conn: psycopg.Connection) -> None:
    # V05 is cancelled: H2 Jan has V04 only; V07 (Jan 30 - Feb 4) counts in February with 5 days
    assert one(conn, "select visits, total_fee from marts.mart_institution_monthly"
               " where fixmedins_code = %s and stat_month = '2024-01-01'", (H2,)) == (1, Decimal("300.00"))
    assert one(conn, "select inpatient_stays, avg_stay_days, fee_per_stay from marts.mart_institution_monthly"
               " where fixmedins_code = %s and stat_month = '2024-02-01'", (H1,)) == (
        1, Decimal("5.00"), Decimal("6000.00"))


def test_mom_yoy_null_without_earlier_month(conn: psycopg.Connection) -> None:
    rows = conn.execute("""
        select stat_month::text, total_fee, total_fee_mom, total_fee_yoy, visits_mom
        from marts.mart_institution_monthly where fixmedins_code = %s order by stat_month""", (H1,)).fetchall()
    assert rows == [
        ("2024-01-01", Decimal("5300.00"), None, None, None),
        # (6150 - 5300) / 5300; visits 2 vs 3
        ("2024-02-01", Decimal("6150.00"), Decimal("0.160377"), None, Decimal("-0.333333")),
        # no December 2024 row: MoM NULL; YoY (250 - 5300) / 5300
        ("2025-01-01", Decimal("250.00"), None, Decimal("-0.952830"), None),
    ]


def test_city_overview_and_slices_add_up(conn: psycopg.Connection) -> None:
    rows = conn.execute("""
        select stat_month::text, visits, persons, total_fee, violation_count, suspect_amount
        from marts.mart_fund_overview_monthly order by stat_month""").fetchall()
    assert rows == [
        # Jan: V01-V04; suspects X1-X4 (X4 is person-period: city-wide only)
        ("2024-01-01", 4, 3, Decimal("5600.00"), 4, Decimal("410.00")),
        ("2024-02-01", 4, 3, Decimal("6630.00"), 1, Decimal("200.00")),
        ("2025-01-01", 1, 1, Decimal("250.00"), 0, Decimal("0.00")),
    ]
    # region and level slices partition the city's fee; institutions partition it too
    for table, key in (("mart_region_monthly", "admdvs"), ("mart_level_monthly", "hosp_lv"),
                       ("mart_institution_monthly", "fixmedins_code"), ("mart_insutype_monthly", "insutype")):
        diff = conn.execute(f"""
            select o.stat_month from marts.mart_fund_overview_monthly o
            join (select stat_month, sum(total_fee) fee, sum(visits) v from marts.{table} group by 1) s
              using (stat_month)
            where s.fee <> o.total_fee or s.v <> o.visits""").fetchall()
        assert diff == [], (table, key)
    # the institution slice holds no suspect without institution: 410 - 60 (R01) in January
    assert one(conn, "select sum(suspect_amount) from marts.mart_institution_monthly"
               " where stat_month = '2024-01-01'") == (Decimal("350.00"),)


def test_department_physician_disease_person_slices(conn: psycopg.Connection) -> None:
    assert one(conn, "select visits, total_fee from marts.mart_department_monthly"
               " where fixmedins_code = %s and dept_codg = 'D01' and stat_month = '2024-01-01'", (H1,)) == (
        2, Decimal("300.00"))
    # pharmacy sale V09 has no department: not in the department slice
    assert one(conn, "select count(*) from marts.mart_department_monthly where fixmedins_code = %s", (P1,)) == (0,)
    assert one(conn, "select visits, violation_count, suspect_amount from marts.mart_physician_monthly"
               " where prac_codg = %s and stat_month = '2024-01-01'", (DOC1,)) == (2, 2, Decimal("50.00"))
    # J18.9 (V01) and J18.0 (V04) share category J18
    assert one(conn, "select visits, total_fee from marts.mart_disease_monthly"
               " where dise_category = 'J18' and stat_month = '2024-01-01'") == (2, Decimal("400.00"))
    assert one(conn, "select visits, total_fee, violation_count from marts.mart_person_monthly"
               " where psn_no = 'P001' and stat_month = '2024-01-01'") == (2, Decimal("300.00"), 3)


def test_rankings(conn: psycopg.Connection) -> None:
    rows = conn.execute("""
        select fixmedins_code, rank_no, dense_rank_no, ranked_count from marts.mart_rankings
        where dimension = 'institution' and metric = 'total_fee' and scope_type = 'city'
          and stat_month = '2024-02-01' order by rank_no""").fetchall()
    assert rows == [(H1, 1, 1, 3), (H3, 2, 2, 3), (P1, 3, 3, 3)]
    # growth is ranked only where the previous month exists (H1 in Feb)
    assert conn.execute("""
        select fixmedins_code, metric_value from marts.mart_rankings where dimension = 'institution'
          and metric = 'total_fee_mom' and scope_type = 'city' and stat_month = '2024-02-01'""").fetchall() == [
        (H1, Decimal("0.160377"))]
    assert one(conn, "select count(*) from marts.mart_rankings_top10 where rank_no > 10") == (0,)


def test_rankings_pivot(conn: psycopg.Connection) -> None:
    # H1, Feb 2024: fee V06 150 + V07 6,000 (stay discharged in Feb), fund 90 + 4,500, growth on
    # January's 5,300 = 0.160377, first of three by fee; no suspects in February
    assert one(conn, """
        select fixmedins_name, admdvs, hosp_lv, total_fee, fund_pay, total_fee_mom, suspect_amount, rank_fee
        from marts.mart_rankings_pivot
        where dimension = 'institution' and member_key = %s and stat_month = '2024-02-01'""", (H1,)) == (
        "甲医院", "330203", "3", Decimal("6150.00"), Decimal("4590.00"), Decimal("0.160377"), Decimal("0"), 1)
    # row by row the city-wide ranking of mart_rankings pivoted as the rankings dataset did before
    pivot = """
        select stat_month, dimension, member_key, fixmedins_code, fixmedins_name, admdvs, hosp_lv, total_fee,
               fund_pay, total_fee_mom, suspect_amount, rank_fee from marts.mart_rankings_pivot"""
    from_long = """
        select r.stat_month, r.dimension, r.member_key, r.fixmedins_code, n.fixmedins_name, r.admdvs, r.hosp_lv,
               max(r.metric_value) filter (where r.metric = 'total_fee'),
               max(r.metric_value) filter (where r.metric = 'fund_pay'),
               max(r.metric_value) filter (where r.metric = 'total_fee_mom'),
               max(r.metric_value) filter (where r.metric = 'suspect_amount'),
               max(r.rank_no) filter (where r.metric = 'total_fee')
        from marts.mart_rankings as r
        left join (select fixmedins_code, max(fixmedins_name) as fixmedins_name
                   from marts.mart_institution_monthly group by fixmedins_code) as n
          on r.fixmedins_code = n.fixmedins_code
        where r.scope_type = 'city' group by 1, 2, 3, 4, 5, 6, 7"""
    rows = conn.execute(pivot).fetchall()
    assert len(rows) > 10 and {r[1] for r in rows} == {"institution", "department", "physician", "disease", "person"}
    assert conn.execute(f"({pivot}) except all ({from_long})").fetchall() == []
    assert conn.execute(f"({from_long}) except all ({pivot})").fetchall() == []


def test_violation_counts(conn: psycopg.Connection) -> None:
    # X2 (H1, Jan, R09 deduct red, 20.00); X4 is a person-period suspect without an institution
    assert one(conn, """
        select fixmedins_name, rule_name_zh, disposition_zh, suspect_count, amount from marts.mart_violation_counts
        where fixmedins_code = %s and stat_month = '2024-01-01' and rule_code = 'R09'""", (H1,)) == (
        "甲医院", "超限价", "违规费用", 1, Decimal("20.00"))
    assert one(conn, "select suspect_count, amount from marts.mart_violation_counts"
               " where fixmedins_code is null") == (1, Decimal("60.00"))
    # every group of the detail mart, with its count and amount
    counts = """
        select stat_month, fixmedins_code, fixmedins_name, hosp_lv, admdvs, rule_code, rule_name_zh, rule_name_en,
               disposition, disposition_zh, severity, suspect_count, amount from marts.mart_violation_counts"""
    detail = """
        select stat_month, fixmedins_code, fixmedins_name, hosp_lv, admdvs, rule_code, rule_name_zh, rule_name_en,
               disposition, disposition_zh, severity, count(*), sum(amount)
        from marts.mart_hospital_violations group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11"""
    assert len(conn.execute(counts).fetchall()) == 5
    assert conn.execute(f"({counts}) except all ({detail})").fetchall() == []
    assert conn.execute(f"({detail}) except all ({counts})").fetchall() == []


def test_daily_current_month(conn: psycopg.Connection) -> None:
    # the latest data month is January 2025: one day, city and H1
    rows = conn.execute("""
        select stat_date::text, dimension, fixmedins_code, visits, total_fee, mtd_total_fee
        from marts.mart_daily_current_month order by dimension, fixmedins_code""").fetchall()
    assert rows == [
        ("2025-01-15", "city", None, 1, Decimal("250.00"), Decimal("250.00")),
        ("2025-01-15", "institution", H1, 1, Decimal("250.00"), Decimal("250.00")),
    ]


def test_peer_distribution(conn: psycopg.Connection) -> None:
    # level 3, Jan 2024, outpatient: V01 100, V02 200, V04 300 -> p50 200, p90 280, p99 298
    assert one(conn, """
        select sample_size, p50, p90, p99 from marts.mart_peer_distribution
        where stat_month = '2024-01-01' and hosp_lv = '3' and measure = 'fee_per_visit' and dise_category = '*'
        """) == (3, Decimal("200.00"), Decimal("280.00"), Decimal("298.00"))
    assert one(conn, """
        select sample_size, p50 from marts.mart_peer_distribution
        where stat_month = '2024-01-01' and hosp_lv = '3' and measure = 'fee_per_stay' and dise_category = 'I10'
        """) == (1, Decimal("5000.00"))
    # two level-3 hospitals are too few peers for a z-score
    assert one(conn, "select peer_count, z_score from marts.mart_peer_comparison where fixmedins_code = %s"
               " and stat_month = '2024-01-01' and measure = 'fee_per_visit'", (H1,)) == (2, None)


def test_physician_scores(conn: psycopg.Connection) -> None:
    rows = conn.execute("""
        select violation_id, points, running_points, remaining_points, score_status
        from marts.mart_physician_scores where prac_codg = %s order by running_points""", (DOC1,)).fetchall()
    # seed: R04 hospital_review 1 point, R09 deduct 2 points
    assert rows == [("X1", 1, 1, 11, "reminder"), ("X2", 2, 3, 9, "reminder")]


def test_hospital_violations_download(conn: psycopg.Connection) -> None:
    row = one(conn, """
        select fixmedins_code, fixmedins_name, rule_name_zh, rule_name_en, disposition_zh, severity_zh,
               psn_name_masked, certno_masked, evidence_text, amount
        from marts.mart_hospital_violations where violation_id = 'X1'""")
    certno, name = PERSONS["P001"]
    assert row == (H1, "甲医院", "超量开药", "supply over limit", "发医院核查", "黄", name[0] + "**",
                   certno[:6] + "********" + certno[-4:], "limit_days: 7; prd_days: 14; rule_version: 1.0.0",
                   Decimal("30.00"))
    assert one(conn, "select count(*), count(distinct violation_id) from marts.mart_hospital_violations") == (5, 5)
    assert one(conn, "select violation_count, suspect_amount from marts.mart_violation_summary"
               " where fixmedins_code = %s and rule_code = 'R13'", (H3,)) == (1, Decimal("200.00"))


def test_dashboard_indexes_exist(conn: psycopg.Connection) -> None:
    indexed = {r[0] for r in conn.execute("""
        select t.relname from pg_index i join pg_class t on t.oid = i.indrelid
        join pg_attribute a on a.attrelid = t.oid and a.attnum = i.indkey[0]
        where t.relnamespace = 'marts'::regnamespace and a.attname in ('stat_month', 'stat_date')""")}
    for table in ("mart_institution_monthly", "mart_department_monthly", "mart_physician_monthly",
                  "mart_fund_overview_monthly", "mart_hospital_violations", "mart_rankings",
                  "mart_violation_summary", "mart_daily_current_month", "mart_violation_counts"):
        assert table in indexed, table
    assert H2  # H2 appears in the rows above via the fixture
