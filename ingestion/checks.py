"""Set-based row checks, as SQL over the raw (all-text) scratch table.

Every check is a regex or arithmetic on text so the same SQL runs on
PostgreSQL 15 (no pg_input_is_valid) and 18. A row that passes the checks of
its typed columns casts without error, so the final INSERT can cast blindly.

Order of the passes (each inserts into load.bad_<id>, one row per bad rid):
  1. row checks: required value NULL, unparsable date/timestamp/number,
     wrong code shape, wrong certno check digit (all reasons of a row, '; '-joined)
  2. duplicate key within the delivery, among rows that passed 1
     (the lowest line loads; later ones name it)
  3. refund line whose init_feedetl_sn points at nothing (fee kinds)
"""

from __future__ import annotations

import re
from datetime import date

from ingestion.contract import (
    AMOUNT,
    CERTNO_RE,
    DATE,
    INSTITUTION_CODE_RE,
    INT,
    PRACTITIONER_CODE_RE,
    PRICE,
    QTY,
    TS,
    Kind,
)

DATE_RE = r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
TS_RE = DATE_RE + r" ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$"
INT_RE = r"^[+-]?[0-9]{1,9}$"
CERTNO_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)

FEE_KINDS = ("his_feedetail", "pharmacy_sales")


def lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def numeric_re(pg_type: str) -> str:
    m = re.fullmatch(r"numeric\((\d+),(\d+)\)", pg_type)
    assert m, pg_type
    p, s = int(m.group(1)), int(m.group(2))
    return rf"^[+-]?([0-9]{{1,{p - s}}}(\.[0-9]{{0,{s}}})?|\.[0-9]{{1,{s}}})$"


def _bad_day(col: str) -> str:
    # regex already guarantees month 01-12 and day 01-31; only days 29-31 can overflow the month
    return (
        f"(substr({col}, 9, 2) > '28' AND substr({col}, 9, 2)::int > extract(day FROM "
        f"make_date(substr({col}, 1, 4)::int, substr({col}, 6, 2)::int, 1) + interval '1 month - 1 day'))"
    )


def type_problem(col: str, pg_type: str) -> str | None:
    """SQL boolean: the non-NULL text value does not parse as pg_type."""
    if pg_type == TS:
        # CASE, not OR: PostgreSQL does not promise left-to-right evaluation of OR
        return f"(CASE WHEN {col} !~ {lit(TS_RE)} THEN true ELSE {_bad_day(col)} END)"
    if pg_type == DATE:
        return f"(CASE WHEN {col} !~ {lit(DATE_RE + '$')} THEN true ELSE {_bad_day(col)} END)"
    if pg_type == INT:
        return f"{col} !~ {lit(INT_RE)}"
    if pg_type in (AMOUNT, QTY, PRICE) or pg_type.startswith("numeric("):
        return f"{col} !~ {lit(numeric_re(pg_type))}"
    return None


_TYPE_WORD = {TS: "timestamp", DATE: "date", INT: "number"}


def certno_digit_sql(col: str) -> str:
    terms = " + ".join(f"substr({col}, {i + 1}, 1)::int * {w}" for i, w in enumerate(CERTNO_WEIGHTS))
    return f"substr('10X98765432', (({terms}) % 11) + 1, 1)"


def required_columns(kind: Kind) -> list[str]:
    return list(dict.fromkeys([*kind.key, *kind.not_null]))


def row_reason_sql(kind: Kind) -> str:
    """SQL text expression: '; '-joined reasons of a raw row, '' when it is fine."""
    parts: list[str] = []
    for c in required_columns(kind):
        parts.append(f"CASE WHEN {c} IS NULL THEN {lit('required value missing: ' + c)} END")
    for c, t in kind.columns.items():
        problem = type_problem(c, t)
        if problem:
            word = _TYPE_WORD.get(t, "number")
            parts.append(
                f"CASE WHEN {c} IS NOT NULL AND {problem} THEN "
                f"{lit(f'unparsable {word} in {c}: ')} || left({c}, 60) END"
            )
    # codes are compared trimmed and upper-cased, as stg does; NULL codes are not a shape problem here
    for c in kind.institution_codes:
        parts.append(
            f"CASE WHEN {c} IS NOT NULL AND upper(btrim({c})) !~ {lit(INSTITUTION_CODE_RE)} THEN "
            f"{lit(f'wrong code shape in {c} (expected {INSTITUTION_CODE_RE}): ')} || left({c}, 60) END"
        )
    for c in kind.practitioner_codes:
        parts.append(
            f"CASE WHEN {c} IS NOT NULL AND upper(btrim({c})) !~ {lit(PRACTITIONER_CODE_RE)} THEN "
            f"{lit(f'wrong code shape in {c} (expected {PRACTITIONER_CODE_RE}): ')} || left({c}, 60) END"
        )
    for c in kind.certno_columns:
        u = f"upper(btrim({c}))"
        parts.append(
            f"CASE WHEN {c} IS NULL THEN NULL "
            f"WHEN {u} !~ {lit(CERTNO_RE)} THEN {lit(f'wrong certno shape in {c}: ')} || left({c}, 60) "
            f"WHEN {certno_digit_sql(u)} <> substr({u}, 18, 1) THEN "
            f"{lit(f'wrong certno check digit in {c}: ')} || {c} END"
        )
    if not parts:
        return "''"
    return "concat_ws('; ', " + ", ".join(parts) + ")"


def row_checks_sql(kind: Kind, raw: str, bad: str) -> str:
    return (
        f"INSERT INTO {bad} (rid, reason) SELECT rid, reason FROM ("
        f"SELECT rid, {row_reason_sql(kind)} AS reason FROM {raw}) AS s WHERE reason <> ''"
    )


def _key_hash(kind: Kind, alias: str = "") -> str:
    p = f"{alias}." if alias else ""
    return "hashtextextended(concat_ws(chr(31), " + ", ".join(p + c for c in kind.key) + "), 0)"


def duplicate_checks_sql(kind: Kind, raw: str, bad: str, files: str) -> str:
    """Later occurrences of a key quarantined, naming the first occurrence's file and line.

    A hash aggregate over 64-bit key hashes finds candidate keys cheaply; the
    exact comparison runs on the few candidate rows only.
    """
    keys = ", ".join(kind.key)
    key_label = ", ".join(kind.key)
    return f"""
INSERT INTO {bad} (rid, reason)
WITH cand AS (
  SELECT {_key_hash(kind)} AS h FROM {raw} GROUP BY 1 HAVING count(*) > 1
),
rows_ AS (
  SELECT r.rid, r.file_no, {", ".join("r." + c for c in kind.key)}
  FROM {raw} AS r
  WHERE {_key_hash(kind, "r")} IN (SELECT h FROM cand)
    AND NOT EXISTS (SELECT 1 FROM {bad} AS b WHERE b.rid = r.rid)
),
ranked AS (
  SELECT rid, first_value(rid) OVER w AS first_rid, first_value(file_no) OVER w AS first_file
  FROM rows_ WINDOW w AS (PARTITION BY {keys} ORDER BY rid)
)
SELECT k.rid,
  {lit(f"duplicate key ({key_label}) in this delivery: first occurrence ")}
  || f.file_name || ' line ' || (k.first_rid - f.first_rid + 2)::text
FROM ranked AS k JOIN {files} AS f ON f.file_no = k.first_file
WHERE k.rid <> k.first_rid
"""


def refund_checks_sql(kind: Kind, raw: str, bad: str, business_date: date) -> str:
    """Refund lines (init_feedetl_sn set) whose original is neither in this delivery nor already loaded."""
    d = lit(business_date.isoformat())
    return f"""
INSERT INTO {bad} (rid, reason)
WITH refunds AS (
  SELECT r.rid, r.fixmedins_code, r.mdtrt_id, r.init_feedetl_sn
  FROM {raw} AS r
  WHERE r.init_feedetl_sn IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM {bad} AS b WHERE b.rid = r.rid)
),
matched AS (
  SELECT DISTINCT f.rid
  FROM refunds AS f
  JOIN {raw} AS o
    ON o.fixmedins_code = f.fixmedins_code AND o.mdtrt_id = f.mdtrt_id AND o.feedetl_sn = f.init_feedetl_sn
  WHERE NOT EXISTS (SELECT 1 FROM {bad} AS b WHERE b.rid = o.rid)
)
SELECT f.rid,
  'refund points at nothing: init_feedetl_sn ' || f.init_feedetl_sn
  || ' has no line with that feedetl_sn for fixmedins_code ' || f.fixmedins_code
  || ' and mdtrt_id ' || f.mdtrt_id
FROM refunds AS f
WHERE f.rid NOT IN (SELECT rid FROM matched)
  AND NOT EXISTS (
    SELECT 1 FROM {kind.table} AS s
    WHERE s.business_date <> {d}::date
      AND s.fixmedins_code = f.fixmedins_code AND s.mdtrt_id = f.mdtrt_id AND s.feedetl_sn = f.init_feedetl_sn
  )
"""


def cast_sql(col: str, pg_type: str) -> str:
    if pg_type == "text":
        return col
    return f"{col}::{pg_type}"


def raw_row_json_sql(kind: Kind, alias: str = "r") -> str:
    """The raw row as jsonb: every contract column as delivered (text, NULL for empty)."""
    args = ", ".join(f"{lit(c)}, {alias}.{c}" for c in kind.columns)
    return f"jsonb_build_object({args})"
