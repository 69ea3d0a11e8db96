"""City-scale history synthesized directly in the warehouse (set-based SQL, no files).

  python -m bench.history --db history --end 2024-03-30 --days 30 [--scale 1.0] [--landing DIR]

Fills the daily staging partitions exactly as the loader would (same tables,
one LIST partition per business date with its unique delivery-key index and
date CHECK, lineage columns, one `meta.load_log` summary + file row per kind
and date with status `loaded`, so dbt's incremental watermarks and source
freshness see ordinary loads). The reference catalogue is the synthetic
generator's city snapshot, loaded by the real loader from a generated landing
(`python -m synthetic generate --scale city`; its reference folder is dated 31
days before its business date, so it predates the history).

Per day at scale 1.0: 405,000 outpatient visits (11/13/14), 15,000 stays
discharged (admitted up to 8 days before, fee lines dated back), 80,000
pharmacy sales: ~500,000 visits and settlements, ~3,000,000 fee lines. So
that every rule's SQL does real work, the day also carries: refunds (0.5 % of
visits, the same day or 1-2 days later, with settlement reversal and
re-settlement), plain reversals (0.3 %, cancelled visits), readmissions at the
same hospital, outpatient visits and pharmacy sales of persons in a stay,
special-disease visits and pharmacy purchases of registered persons (several a
month), repeat prescriptions of the same drugs to the same person, herbal
prescriptions of 6-24 herbs, restricted items (indication, gender, age),
prices over cap, over-long supplies, duplicate service lines, missing
prescribers and deaths (0.1 % of persons get a death_date in staging.ref_psn).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg

from bench.common import BENCH_VAR, database_url, fresh_database, load_average, log, pipeline_env
from ingestion.contract import KINDS
from ingestion.loader import partition_name
from ingestion.schema import ensure_schema, key_index_columns
from warehouse.config import REPO_ROOT

CITY_DAY = {"outpatient": 405_000, "stays": 15_000, "sales": 80_000}
DEFAULT_LANDING = BENCH_VAR / "city_landing"
SCRATCH = "bench_gen"


def generate_landing(landing: Path, business_date: date) -> None:
    """The generator's city day (its reference snapshot predates business_date by 31 days)."""
    if (landing / "daily" / business_date.isoformat() / "manifest.json").is_file():
        return
    log(f"generating the city landing for {business_date} into {landing} (python -m synthetic, ~1.5 min of CPU)")
    subprocess.run([sys.executable, "-m", "synthetic", "generate", "--scale", "city", "--days", "1", "--start",
                    business_date.isoformat(), "--out", str(landing), "--encoding", "utf8"],
                   check=True, cwd=REPO_ROOT, env=pipeline_env(""))


def reference_date(landing: Path) -> date:
    dates = sorted(p.name for p in (landing / "reference").iterdir() if (p / "manifest.json").is_file())
    return date.fromisoformat(dates[0])


def load_reference(url: str, landing: Path) -> float:
    """The real loader, reference folder only; returns seconds."""
    d = reference_date(landing)
    t = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "ingestion", "load", "--landing", str(landing), "--date", d.isoformat(),
                           "--reference"], cwd=REPO_ROOT, env=pipeline_env(url), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"reference load failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return time.monotonic() - t


def add_deaths(conn: psycopg.Connection, ref: date, first_day: date) -> int:
    """0.1 % of persons die during the history (R14 has lines to judge)."""
    cur = conn.execute(
        "UPDATE staging.ref_psn SET death_date = %s::date + (right(psn_no, 6)::int %% 40)"
        " WHERE snapshot_date = %s AND right(psn_no, 3) = '007' AND death_date IS NULL",
        (first_day, ref))
    return cur.rowcount


def prepare_scratch(conn: psycopg.Connection, ref: date) -> None:
    """Lookup tables drawn from the reference snapshot: institutions with their staff, items, diseases."""
    from synthetic.catalog import DEPARTMENTS

    s = SCRATCH
    conn.execute(f"DROP SCHEMA IF EXISTS {s} CASCADE")
    conn.execute(f"CREATE SCHEMA {s}")
    conn.execute(f"CREATE TABLE {s}.dept (dept_codg text PRIMARY KEY, dept_name text)")
    with conn.cursor().copy(f"COPY {s}.dept FROM STDIN") as cp:
        for code, name, _ in DEPARTMENTS:
            cp.write_row((code, name))
    conn.execute(f"""
        CREATE TABLE {s}.hosp AS
        SELECT (row_number() OVER (ORDER BY m.fixmedins_code) - 1)::int AS hno, m.fixmedins_code AS code,
               array_agg(p.prac_codg ORDER BY p.prac_codg) AS pracs,
               array_agg(p.dept_codg ORDER BY p.prac_codg) AS depts,
               array_agg(coalesce(d.dept_name, p.dept_codg) ORDER BY p.prac_codg) AS dept_names,
               count(*)::int AS nstaff
        FROM staging.ref_medins AS m
        JOIN staging.ref_practitioner AS p
          ON p.fixmedins_code = m.fixmedins_code AND p.snapshot_date = m.snapshot_date AND p.prac_type = '1'
        LEFT JOIN {s}.dept AS d ON d.dept_codg = p.dept_codg
        WHERE m.snapshot_date = %(ref)s AND m.fixmedins_type = '1'
        GROUP BY m.fixmedins_code""".replace("%(ref)s", f"'{ref}'"))
    conn.execute(f"""
        CREATE TABLE {s}.pharm AS
        SELECT (row_number() OVER (ORDER BY m.fixmedins_code) - 1)::int AS pno, m.fixmedins_code AS code,
               array_agg(p.prac_codg ORDER BY p.prac_codg) AS pracs
        FROM staging.ref_medins AS m
        JOIN staging.ref_practitioner AS p
          ON p.fixmedins_code = m.fixmedins_code AND p.snapshot_date = m.snapshot_date AND p.prac_type = '2'
        WHERE m.snapshot_date = '{ref}' AND m.fixmedins_type = '2'
        GROUP BY m.fixmedins_code""")
    # item groups; the price is a base price under the cap (a cap, when set, is the list's maximum)
    conn.execute(f"""
        CREATE TABLE {s}.item AS
        SELECT med_list_codg AS code, list_type, max_pric, max_days,
               round(coalesce(max_pric * 0.8, 3 + (hashtext(med_list_codg) & 255) / 10.0), 2) AS price,
               CASE
                 WHEN list_type = '101' AND lmt_dise_codes IS NULL AND lmt_gend IS NULL AND lmt_age_min IS NULL
                      AND lmt_age_max IS NULL AND chrgitm_lv <> '3' THEN 'drug'
                 WHEN list_type = '101' THEN 'restricted'
                 WHEN list_type = '102' AND precious_flag = '0' THEN 'herb'
                 WHEN list_type = '201' AND lmt_gend IS NULL AND chrgitm_lv <> '3' THEN 'service'
                 ELSE 'other'
               END AS grp
        FROM staging.ref_med_list WHERE snapshot_date = '{ref}'""")
    conn.execute(f"CREATE UNIQUE INDEX ON {s}.item (code)")
    conn.execute(f"""
        CREATE TABLE {s}.arr AS
        SELECT (SELECT array_agg(code ORDER BY code) FROM {s}.item WHERE grp = 'drug') AS drugs,
               (SELECT array_agg(code ORDER BY code) FROM {s}.item WHERE grp = 'restricted') AS restricted,
               (SELECT array_agg(code ORDER BY code) FROM {s}.item WHERE grp = 'herb') AS herbs,
               (SELECT array_agg(code ORDER BY code) FROM {s}.item WHERE grp = 'service') AS services,
               (SELECT array_agg(dise_codg ORDER BY dise_codg) FROM staging.ref_disease
                 WHERE snapshot_date = '{ref}') AS dises,
               (SELECT array_agg(dise_name ORDER BY dise_codg) FROM staging.ref_disease
                 WHERE snapshot_date = '{ref}') AS dise_names,
               (SELECT count(*) FROM {s}.hosp)::int AS nh,
               (SELECT count(*) FROM {s}.pharm)::int AS np,
               (SELECT count(*) FROM staging.ref_psn WHERE snapshot_date = '{ref}')::int AS npsn""")
    conn.execute(f"ANALYZE {s}.hosp")
    conn.execute(f"ANALYZE {s}.item")


def visits_sql(d: date, max_los: int, counts: dict[str, int]) -> str:
    """One day's visits into bench_gen.v: vno, kind, the his_mdtrt columns, line counts."""
    s = SCRATCH
    tag = d.strftime("%Y%m%d")
    n_out, n_stay, n_sale = counts["outpatient"], counts["stays"], counts["sales"]
    return f"""
    CREATE UNLOGGED TABLE {s}.v AS
    WITH a AS (SELECT * FROM {s}.arr),
    base AS (
        -- outpatient: persons drawn over everybody but the stay pool; 5 % special-disease visits of
        -- registered persons (index = 1 mod 20, the generator's registrations), 5 % emergencies
        SELECT g AS vno, 'out'::text AS kind, random() AS r1, random() AS r2, random() AS r3,
               CASE WHEN g % 20 = 7 THEN 20 * floor(random() * (a.npsn / 20 - 1))::int + 1
                    ELSE 1 + floor(random() * (a.npsn - 20 * {max(n_stay, 1)}))::int END AS pidx,
               CASE WHEN g % 20 = 7 THEN '14' WHEN g % 20 = 9 THEN '13' ELSE '11' END AS med_type
        FROM generate_series(1, {n_out}) AS g, a
        UNION ALL
        -- stays: a pool of 20 days' worth of stay persons, so readmissions happen
        SELECT {n_out} + g, 'stay', random(), random(), random(),
               a.npsn - floor(random() * 20 * {max(n_stay, 1)})::int, '21'
        FROM generate_series(1, {n_stay}) AS g, a
        UNION ALL
        -- pharmacy sales: anybody; one in ten by a registered person of a small pool (R03 has cases)
        SELECT {n_out + n_stay} + g, 'sale', random(), random(), random(),
               CASE WHEN g % 10 = 3 THEN 20 * floor(random() * least(a.npsn / 20 - 1, {max(n_sale // 2, 10)}))::int + 1
                    ELSE 1 + floor(random() * a.npsn)::int END,
               '41'
        FROM generate_series(1, {n_sale}) AS g, a
    )
    SELECT b.vno, b.kind, b.med_type, b.pidx,
           '33020' || lpad(b.pidx::text, 15, '0') AS psn_no,
           CASE WHEN b.kind = 'sale' THEN 'S' ELSE 'M' END || '{tag}' || lpad(b.vno::text, 9, '0') AS mdtrt_id,
           CASE WHEN (b.pidx * 7) % 5 < 3 THEN '310' ELSE '390' END AS insutype,
           CASE WHEN b.kind = 'sale' THEN NULL
                WHEN b.kind = 'stay' AND b.r3 < 0.6 THEN (b.pidx * 31) % a.nh   -- the person's usual hospital
                ELSE floor(b.r1 * a.nh)::int END AS hno,
           CASE WHEN b.kind = 'sale' THEN floor(b.r1 * a.np)::int END AS pno,
           CASE WHEN b.kind = 'stay' THEN floor(b.r2 * {max_los + 1})::int ELSE 0 END AS los,
           '{d}'::timestamp + make_interval(secs => 28800 + floor(b.r2 * 36000)::int) AS when_ts,
           1 + floor(b.r3 * cardinality(a.dises))::int AS dise_i,
           b.r1, b.r2, b.r3,
           -- line plan: outpatient = registration + 2-4 drugs + 1-2 services (+ 5 % herbal rx of 6-24 herbs)
           CASE WHEN b.kind = 'out' THEN 2 + (b.vno % 3) END AS nd,
           CASE WHEN b.kind = 'out' THEN 1 + (b.vno % 2) END AS ns,
           CASE WHEN b.kind = 'out' AND b.vno % 20 = 11 THEN 6 + (b.vno / 20) % 19 ELSE 0 END AS nh
    FROM base AS b, a
    """


def fee_lines_sql(d: date, i: int, table: str, kind: str, load_id: int) -> str:
    """his_feedetail (outpatient + stays) or pharmacy_sales lines of bench_gen.v into `table`."""
    s = SCRATCH
    day_no = i % 100
    fname = f"{kind}.csv"
    if kind == "his_feedetail":
        plan = f"""
        SELECT v.*, k,
               h.code AS inst, h.pracs[1 + (v.vno % h.nstaff)] AS prac, h.depts[1 + (v.vno % h.nstaff)] AS dept,
               h.dept_names[1 + (v.vno % h.nstaff)] AS dept_name,
               CASE WHEN v.kind = 'stay' THEN (k - 1) % 4 ELSE NULL END AS pos,
               CASE WHEN v.kind = 'stay' THEN v.when_ts::date - v.los + (k - 1) / 4 END AS stay_day
        FROM {s}.v AS v
        JOIN {s}.hosp AS h ON h.hno = v.hno
        CROSS JOIN LATERAL generate_series(1, CASE WHEN v.kind = 'stay' THEN (v.los + 1) * 4
                                                   ELSE 1 + v.nd + v.ns + v.nh END) AS k
        WHERE v.kind <> 'sale'"""
        item = """
            CASE
              WHEN l.kind = 'stay' THEN
                CASE l.pos WHEN 0 THEN a.services[4] WHEN 1 THEN a.services[5] WHEN 2 THEN a.services[3]
                     ELSE a.drugs[1 + (l.pidx * 7) % cardinality(a.drugs)] END
              WHEN l.k = 1 THEN a.services[1]
              WHEN l.k <= 1 + l.nd THEN
                CASE WHEN random() < 0.004 THEN a.restricted[1 + (l.vno + l.k) % cardinality(a.restricted)]
                     -- the person's usual drugs: repeat prescriptions make early-refill candidates
                     ELSE a.drugs[1 + (l.pidx * 7 + l.k * 13) % cardinality(a.drugs)] END
              WHEN l.k <= 1 + l.nd + l.ns THEN
                CASE WHEN l.k = 1 + l.nd + l.ns AND l.vno % 1000 = 17 THEN a.services[1]  -- a duplicate charge
                     ELSE a.services[2 + (l.vno + l.k) % (cardinality(a.services) - 1)] END
              ELSE a.herbs[1 + ((l.vno / 20) + l.k) % cardinality(a.herbs)]
            END"""
        when = "CASE WHEN l.kind = 'stay' THEN l.stay_day + time '08:00' + l.pos * interval '30 minutes' ELSE l.when_ts END"
        rx = (f"CASE WHEN l.kind = 'out' AND l.k > 1 + l.nd + l.ns THEN 'RH' || lpad(({day_no} * 1000000 + l.vno)::text, 10, '0')"
              f" WHEN l.kind = 'out' AND l.k > 1 AND l.k <= 1 + l.nd THEN 'RX' || lpad(({day_no} * 1000000 + l.vno)::text, 10, '0')"
              " END")
    else:
        plan = f"""
        SELECT v.*, k, p.code AS inst, CASE WHEN v.r3 < 0.7 THEN p.pracs[1 + v.vno % 2] END AS prac,
               NULL::text AS dept, NULL::text AS dept_name, NULL::int AS pos, NULL::date AS stay_day
        FROM {s}.v AS v
        JOIN {s}.pharm AS p ON p.pno = v.pno
        CROSS JOIN LATERAL generate_series(1, 1 + v.vno % 5) AS k
        WHERE v.kind = 'sale'"""
        item = "a.drugs[1 + (l.pidx * 5 + l.k * 11) % cardinality(a.drugs)]"
        when = "l.when_ts"
        rx = "NULL::text"
    return f"""
    INSERT INTO {table} (business_date, feedetl_sn, init_feedetl_sn, mdtrt_id, psn_no, fixmedins_code, med_type,
        fee_ocur_time, med_list_codg, medins_list_codg, list_type, cnt, pric, det_item_fee_sumamt, bilg_dept_codg,
        bilg_dept_name, bilg_dr_codg, bilg_dr_name, rxno, prd_days, hosp_appr_flag, source_file, source_line, load_id)
    WITH a AS (SELECT * FROM {s}.arr),
    lines AS ({plan}),
    chosen AS (
        SELECT l.*, {item} AS code, {when} AS fee_time, {rx} AS rx, random() AS rr
        FROM lines AS l, a
    ),
    priced AS (
        SELECT c.*, it.list_type, it.max_days, it.max_pric,
               CASE WHEN it.list_type = '102' THEN 10
                    WHEN it.list_type = '101' AND c.kind = 'stay' THEN 1 + c.vno % 2
                    WHEN it.list_type = '101' THEN 1 + (c.vno + c.k) % 3 ELSE 1 END AS qty,
               CASE WHEN it.max_pric IS NOT NULL AND c.rr < 0.0005 THEN it.max_pric + 0.37 ELSE it.price END AS unit,
               CASE WHEN it.list_type <> '101' THEN NULL
                    WHEN c.kind = 'stay' THEN 1
                    WHEN c.kind = 'sale' THEN least(7 + (c.vno + c.k) % 24, coalesce(it.max_days, 30))
                    WHEN c.rr > 0.999 THEN 10                                   -- over-long supply
                    ELSE 1 + (c.vno + c.k) % least(7, coalesce(it.max_days, 7)) END AS prd
        FROM chosen AS c JOIN {s}.item AS it ON it.code = c.code
    )
    SELECT '{d}'::date,
           lpad(({day_no}::bigint * 10000000000 + row_number() OVER ())::text, 12, '0'),
           NULL, p.mdtrt_id, p.psn_no, p.inst, p.med_type, p.fee_time, p.code, right(p.code, 8), p.list_type,
           p.qty, p.unit, round(p.qty * p.unit, 2), p.dept, p.dept_name,
           CASE WHEN p.kind <> 'sale' AND p.rr BETWEEN 0.5 AND 0.5004 THEN NULL ELSE p.prac END,
           CASE WHEN p.prac IS NOT NULL THEN '医师' || right(p.prac, 3) END,
           p.rx, p.prd, '0', '{fname}', (row_number() OVER ())::int + 1, {load_id}
    FROM priced AS p
    """


def refunds_sql(d: date, i: int, table: str, kind: str, load_id: int, days_back: int) -> str:
    """Refund lines delivered on d for the first drug line of some visits of d - days_back.

    A visit gets at most one refund event: the visit number picks the day it happens.
    """
    src = f"staging.{partition_name(KINDS[kind], d - timedelta(days=days_back))}" if days_back else table
    sel = {0: 0, 1: 1, 2: 2}[days_back]
    return f"""
    INSERT INTO {table} (business_date, feedetl_sn, init_feedetl_sn, mdtrt_id, psn_no, fixmedins_code, med_type,
        fee_ocur_time, med_list_codg, medins_list_codg, list_type, cnt, pric, det_item_fee_sumamt, bilg_dept_codg,
        bilg_dept_name, bilg_dr_codg, bilg_dr_name, rxno, prd_days, hosp_appr_flag, source_file, source_line, load_id)
    SELECT '{d}'::date, lpad(({i % 100}::bigint * 10000000000 + 9000000000 + row_number() OVER ())::text, 12, '0'),
           o.feedetl_sn, o.mdtrt_id, o.psn_no, o.fixmedins_code, o.med_type,
           '{d}'::timestamp + interval '17 hours', o.med_list_codg, o.medins_list_codg, o.list_type,
           -ref.qty, o.pric, -round(ref.qty * o.pric, 2), o.bilg_dept_codg, o.bilg_dept_name, o.bilg_dr_codg,
           o.bilg_dr_name, o.rxno, o.prd_days, o.hosp_appr_flag, '{kind}.csv',
           (SELECT count(*) FROM {table})::int + (row_number() OVER ())::int + 1, {load_id}
    FROM (
        SELECT DISTINCT ON (f.mdtrt_id) f.*
        FROM {src} AS f
        WHERE f.init_feedetl_sn IS NULL AND f.list_type = '101' AND f.med_type <> '21'
          AND right(f.mdtrt_id, 9)::int % 600 = {sel}
        ORDER BY f.mdtrt_id, f.feedetl_sn
    ) AS o
    -- two thirds full refunds, the rest partial (one unit less)
    CROSS JOIN LATERAL (SELECT CASE WHEN o.cnt > 1 AND right(o.mdtrt_id, 9)::int % 3 = 0 THEN o.cnt - 1
                                    ELSE o.cnt END AS qty) AS ref
    """


def settlements_sql(d: date, i: int, table: str, load_id: int) -> str:
    """One settlement per visit of d from its original lines; then reversals (+ re-settlement) of d's refunds
    and plain reversals (cancelled visits, 0.3 %)."""
    s = SCRATCH
    tag = d.strftime("%Y%m%d")
    cols = ("business_date, setl_id, mdtrt_id, psn_no, fixmedins_code, insutype, med_type, setl_time, medfee_sumamt,"
            " fulamt_ownpay_amt, overlmt_selfpay, inscp_scp_amt, hifp_pay, acct_pay, psn_cash_pay, fund_pay_sumamt,"
            " refd_setl_flag, init_setl_id, source_file, source_line, load_id")
    fee_today = [f"staging.{partition_name(KINDS[k], d)}" for k in ("his_feedetail", "pharmacy_sales")]
    return f"""
    INSERT INTO {table} ({cols})
    WITH totals AS (
        SELECT mdtrt_id, fixmedins_code, min(psn_no) AS psn_no, min(med_type) AS med_type,
               sum(det_item_fee_sumamt) AS total
        FROM (SELECT * FROM {fee_today[0]} UNION ALL SELECT * FROM {fee_today[1]}) AS f
        WHERE init_feedetl_sn IS NULL
        GROUP BY mdtrt_id, fixmedins_code
    ),
    money AS (
        SELECT t.*, v.insutype, v.when_ts, v.vno,
               round(t.total * CASE t.med_type WHEN '14' THEN 0.75 WHEN '21' THEN 0.82 WHEN '41' THEN 0.30
                                                ELSE 0.50 END, 2) AS hifp,
               CASE WHEN t.med_type = '21' AND t.total > 600 THEN round((t.total - 600) / 10, 2) ELSE 0 END AS sup
        FROM totals AS t JOIN {s}.v AS v ON v.mdtrt_id = t.mdtrt_id
    )
    SELECT '{d}'::date, 'ST{tag}' || lpad(m.vno::text, 9, '0'), m.mdtrt_id, m.psn_no, m.fixmedins_code, m.insutype,
           m.med_type, CASE WHEN m.med_type = '21' THEN '{d}'::timestamp + interval '11 hours' ELSE m.when_ts END,
           m.total, 0, 0, m.total, m.hifp,
           CASE WHEN m.insutype = '310' AND m.med_type <> '21' THEN round((m.total - m.hifp - m.sup) * 0.6, 2) ELSE 0 END,
           m.total - m.hifp - m.sup
             - CASE WHEN m.insutype = '310' AND m.med_type <> '21' THEN round((m.total - m.hifp - m.sup) * 0.6, 2)
                    ELSE 0 END,
           m.hifp + m.sup, '0', NULL, 'setl.csv', (row_number() OVER ())::int + 1, {load_id}
    FROM money AS m
    """


def reversals_sql(d: date, table: str, load_id: int, back_days: int) -> str:
    """Reversal rows (and re-settlements of what the refunds left) for d's refunds and cancelled visits."""
    tag = d.strftime("%Y%m%d")
    cols = ("business_date, setl_id, mdtrt_id, psn_no, fixmedins_code, insutype, med_type, setl_time, medfee_sumamt,"
            " fulamt_ownpay_amt, overlmt_selfpay, inscp_scp_amt, hifp_pay, acct_pay, psn_cash_pay, fund_pay_sumamt,"
            " refd_setl_flag, init_setl_id, source_file, source_line, load_id")
    refunds = " UNION ALL ".join(
        f"SELECT mdtrt_id, fixmedins_code, sum(-det_item_fee_sumamt) AS refunded FROM staging.{partition_name(KINDS[k], d)}"
        f" WHERE init_feedetl_sn IS NOT NULL GROUP BY 1, 2" for k in ("his_feedetail", "pharmacy_sales"))
    setl_parts = " UNION ALL ".join(
        f"SELECT * FROM staging.{partition_name(KINDS['setl'], d - timedelta(days=b))}" for b in range(0, back_days))
    return f"""
    INSERT INTO {table} ({cols})
    WITH refunded AS ({refunds}),
    live AS (
        SELECT st.*, r.refunded
        FROM ({setl_parts}) AS st
        JOIN refunded AS r ON r.mdtrt_id = st.mdtrt_id AND r.fixmedins_code = st.fixmedins_code
        WHERE st.refd_setl_flag = '0'
        UNION ALL
        -- cancelled visits: reversed, never re-settled
        SELECT st.*, NULL
        FROM {table} AS st
        WHERE st.refd_setl_flag = '0' AND right(st.mdtrt_id, 9)::int % 300 = 150
    ),
    out_rows AS (
        SELECT l.*, 'R' AS what FROM live AS l
        UNION ALL
        SELECT l.*, 'N' FROM live AS l WHERE l.refunded IS NOT NULL AND l.medfee_sumamt > l.refunded
    )
    SELECT '{d}'::date, 'ST{tag}' || r.what || lpad((row_number() OVER ())::text, 8, '0'), r.mdtrt_id, r.psn_no,
           r.fixmedins_code, r.insutype, r.med_type, '{d}'::timestamp + interval '17 hours 5 minutes',
           CASE WHEN r.what = 'R' THEN -r.medfee_sumamt ELSE r.medfee_sumamt - r.refunded END,
           0, 0,
           CASE WHEN r.what = 'R' THEN -r.inscp_scp_amt ELSE r.medfee_sumamt - r.refunded END,
           CASE WHEN r.what = 'R' THEN -r.hifp_pay
                ELSE round(r.hifp_pay * (r.medfee_sumamt - r.refunded) / r.medfee_sumamt, 2) END,
           CASE WHEN r.what = 'R' THEN -r.acct_pay ELSE 0 END,
           CASE WHEN r.what = 'R' THEN -r.psn_cash_pay
                ELSE r.medfee_sumamt - r.refunded - round(r.hifp_pay * (r.medfee_sumamt - r.refunded) / r.medfee_sumamt, 2)
           END,
           CASE WHEN r.what = 'R' THEN -r.fund_pay_sumamt
                ELSE round(r.hifp_pay * (r.medfee_sumamt - r.refunded) / r.medfee_sumamt, 2) END,
           CASE WHEN r.what = 'R' THEN '1' ELSE '0' END,
           CASE WHEN r.what = 'R' THEN r.setl_id END,
           'setl.csv', (SELECT count(*) FROM {table})::int + (row_number() OVER ())::int + 1, {load_id}
    FROM out_rows AS r
    """


def visits_rows_sql(d: date, table: str, load_id: int) -> str:
    s = SCRATCH
    return f"""
    INSERT INTO {table} (business_date, mdtrt_id, psn_no, fixmedins_code, med_type, insutype, begntime, endtime,
        dept_codg, dept_name, atddr_no, dise_codg, dise_name, ipt_otp_no, source_file, source_line, load_id)
    SELECT '{d}'::date, v.mdtrt_id, v.psn_no, h.code, v.med_type, v.insutype,
           CASE WHEN v.kind = 'stay' THEN v.when_ts::date - v.los + time '10:12' ELSE v.when_ts END,
           CASE WHEN v.kind = 'stay' THEN '{d}'::date + time '10:30' WHEN v.vno % 2 = 0 THEN v.when_ts END,
           h.depts[1 + (v.vno % h.nstaff)], h.dept_names[1 + (v.vno % h.nstaff)], h.pracs[1 + (v.vno % h.nstaff)],
           a.dises[v.dise_i], a.dise_names[v.dise_i],
           CASE WHEN v.kind = 'stay' THEN 'ZY' ELSE 'MZ' END || lpad(v.vno::text, 9, '0'),
           'his_mdtrt.csv', (row_number() OVER ())::int + 1, {load_id}
    FROM {s}.v AS v JOIN {s}.hosp AS h ON h.hno = v.hno CROSS JOIN {s}.arr AS a
    WHERE v.kind <> 'sale'
    """


def diag_rows_sql(d: date, table: str, load_id: int) -> str:
    s = SCRATCH
    return f"""
    INSERT INTO {table} (business_date, mdtrt_id, diag_type, diag_srt_no, diag_code, diag_name, maindiag_flag,
        source_file, source_line, load_id)
    SELECT '{d}'::date, v.mdtrt_id, '1', n, CASE WHEN n = 1 THEN a.dises[v.dise_i]
                                                 ELSE a.dises[1 + (v.dise_i + 7) % cardinality(a.dises)] END,
           CASE WHEN n = 1 THEN a.dise_names[v.dise_i] ELSE a.dise_names[1 + (v.dise_i + 7) % cardinality(a.dises)] END,
           CASE WHEN n = 1 THEN '1' ELSE '0' END, 'his_diag.csv', (row_number() OVER ())::int + 1, {load_id}
    FROM {s}.v AS v CROSS JOIN {s}.arr AS a
    CROSS JOIN LATERAL generate_series(1, CASE WHEN v.vno % 5 = 0 THEN 2 ELSE 1 END) AS n
    WHERE v.kind <> 'sale'
    """


def new_load_id(conn: psycopg.Connection) -> int:
    return int(conn.execute("SELECT nextval(pg_get_serial_sequence('meta.load_log', 'load_id'))").fetchone()[0])


def publish(conn: psycopg.Connection, kind: str, d: date, table: str, load_id: int, started: float) -> int:
    """Unique key index, date CHECK, ATTACH as the date's partition, ledger rows: what the loader's publish does."""
    k = KINDS[kind]
    part = partition_name(k, d)
    conn.execute(f"CREATE UNIQUE INDEX ON {table} ({', '.join(key_index_columns(k))})")
    conn.execute(f"ALTER TABLE {table} ADD CONSTRAINT {part}_date_check CHECK (business_date = '{d}'::date)")
    conn.execute(f"ALTER TABLE {k.table} ATTACH PARTITION {table} FOR VALUES IN ('{d}')")
    conn.execute(f"ANALYZE {table}")
    rows = int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    secs = time.monotonic() - started
    conn.execute(
        "INSERT INTO meta.load_log (load_id, section, business_date, kind, file_name, sha256, rows_in_file,"
        " rows_loaded, rows_quarantined, status, kind_load_id, timings, started_at, finished_at, duration_ms)"
        " VALUES (%s, 'daily', %s, %s, NULL, NULL, %s, %s, 0, 'loaded', %s, %s,"
        " now() - make_interval(secs => %s), now(), %s)",
        (load_id, d, kind, rows, rows, load_id, json.dumps({"synthesized": round(secs, 3)}), secs, int(secs * 1000)))
    conn.execute(
        "INSERT INTO meta.load_log (section, business_date, kind, file_name, sha256, rows_in_file, rows_loaded,"
        " rows_quarantined, status, encoding, kind_load_id, finished_at)"
        " VALUES ('daily', %s, %s, %s, 'bench.history', %s, %s, 0, 'loaded', 'UTF-8', %s, now())",
        (d, kind, f"{kind}.csv", rows, rows, load_id))
    return rows


def partition_exists(conn: psycopg.Connection, kind: str, d: date) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL",
                        (f"staging.{partition_name(KINDS[kind], d)}",)).fetchone()[0]


def synthesize_day(conn: psycopg.Connection, d: date, i: int, counts: dict[str, int], ref: date) -> dict[str, int]:
    """All five daily kinds of d, each published as its own partition with its ledger rows.

    i numbers the day (feedetl_sn and rxno ranges); stays are admitted at most 8 days before d and never
    before the reference snapshot; refunds reach back to the lines of d-1 and d-2 when those days exist.
    """
    s = SCRATCH
    conn.execute(f"DROP TABLE IF EXISTS {s}.v")
    conn.execute(visits_sql(d, max(0, min(8, (d - ref).days - 1)), counts))
    conn.execute(f"CREATE INDEX ON {s}.v (mdtrt_id)")
    conn.execute(f"ANALYZE {s}.v")
    out: dict[str, int] = {}
    for kind in ("his_mdtrt", "his_diag", "his_feedetail", "pharmacy_sales", "setl"):
        k = KINDS[kind]
        t = time.monotonic()
        part = f"staging.{partition_name(k, d)}"
        conn.execute(f"DROP TABLE IF EXISTS {part}")
        with conn.transaction():
            conn.execute("DELETE FROM meta.load_log WHERE section = 'daily' AND business_date = %s AND kind = %s",
                         (d, kind))
            conn.execute(f"CREATE TABLE {part} (LIKE {k.table} INCLUDING DEFAULTS)")
            load_id = new_load_id(conn)
            if kind == "his_mdtrt":
                conn.execute(visits_rows_sql(d, part, load_id))
            elif kind == "his_diag":
                conn.execute(diag_rows_sql(d, part, load_id))
            elif kind in ("his_feedetail", "pharmacy_sales"):
                conn.execute(fee_lines_sql(d, i, part, kind, load_id))
                for back in range(0, 3):
                    if back == 0 or partition_exists(conn, kind, d - timedelta(days=back)):
                        conn.execute(refunds_sql(d, i, part, kind, load_id, back))
            else:
                conn.execute(settlements_sql(d, i, part, load_id))
                back_days = 1 + sum(1 for b in (1, 2) if partition_exists(conn, "setl", d - timedelta(days=b)))
                conn.execute(reversals_sql(d, part, load_id, back_days))
            out[kind] = publish(conn, kind, d, part, load_id, t)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default="history", help="database mfm_bench_<db> (default history)")
    ap.add_argument("--end", type=date.fromisoformat, default=date(2024, 3, 30), help="last history day")
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of a city day's volume (1.0 = ~3M fee lines)")
    ap.add_argument("--landing", type=Path, default=DEFAULT_LANDING,
                    help="generator landing whose reference snapshot is loaded (generated when missing)")
    ap.add_argument("--keep-db", action="store_true", help="add days to an existing database (no drop/create)")
    args = ap.parse_args(argv)
    run(args.db, args.end, args.days, args.scale, args.landing, keep=args.keep_db)
    return 0


def prepare_reference_db(db: str, landing: Path, first_day: date) -> tuple[str, dict]:
    """Fresh mfm_bench_<db> with the staging schema and the generator's reference snapshot (real loader),
    plus the deaths of add_deaths (dated from first_day on)."""
    url = fresh_database(db)
    figures: dict = {}
    with psycopg.connect(url, autocommit=True) as conn:
        ensure_schema(conn)
        log(f"loading reference snapshot {reference_date(landing)} into mfm_bench_{db} with the real loader")
        figures["reference_load_s"] = round(load_reference(url, landing), 1)
        figures["deaths"] = add_deaths(conn, reference_date(landing), first_day)
    return url, figures


def add_days(url: str, first: date, days: int, scale: float, ref: date, first_index: int = 1) -> list[dict]:
    """Synthesize `days` consecutive days from `first` into the database at url; returns per-day figures."""
    counts = {k: max(1, int(v * scale)) for k, v in CITY_DAY.items()}
    per_day = []
    t0 = time.monotonic()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET work_mem = '256MB'")
        conn.execute("SET maintenance_work_mem = '512MB'")
        prepare_scratch(conn, ref)
        for n in range(days):
            d = first + timedelta(days=n)
            t = time.monotonic()
            conn.execute("SELECT setseed(%s)", (((d.toordinal() % 1000) / 1000.0),))
            rows = synthesize_day(conn, d, first_index + n, counts, ref)
            secs = time.monotonic() - t
            per_day.append({"date": d.isoformat(), "seconds": round(secs, 1), **rows})
            log(f"synthesized day {n + 1}/{days} {d}: {rows['his_feedetail'] + rows['pharmacy_sales']:,} fee lines,"
                f" {rows['setl']:,} settlements in {secs:.0f}s (total {time.monotonic() - t0:.0f}s,"
                f" load {load_average()[0]})")
        conn.execute(f"DROP SCHEMA {SCRATCH} CASCADE")
    return per_day


def run(db: str, end: date, days: int, scale: float, landing: Path, keep: bool = False,
        first_index: int = 1) -> dict:
    """Create (or extend, keep=True) mfm_bench_<db> with `days` history days ending on `end`; returns figures."""
    generate_landing(landing, end + timedelta(days=1))
    first = end - timedelta(days=days - 1)
    figures: dict = {"db": db, "days": days, "scale": scale, "load_average_start": load_average()}
    t0 = time.monotonic()
    if keep:
        url = database_url(db)
    else:
        url, ref_figures = prepare_reference_db(db, landing, first)
        figures.update(ref_figures)
    figures["days_detail"] = add_days(url, first, days, scale, reference_date(landing), first_index)
    figures.update(seconds=round(time.monotonic() - t0, 1), url=url, load_average_end=load_average())
    return figures


if __name__ == "__main__":
    raise SystemExit(main())
