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


def type_pattern(pg_type: str) -> tuple[str, bool] | None:
    """(regex a good text value matches, whether its day must also exist in its month) for a typed
    contract column; None for text."""
    if pg_type == TS:
        return TS_RE, True
    if pg_type == DATE:
        return DATE_RE + "$", True
    if pg_type == INT:
        return INT_RE, False
    if pg_type in (AMOUNT, QTY, PRICE) or pg_type.startswith("numeric("):
        return numeric_re(pg_type), False
    return None


def code_patterns(kind: Kind) -> list[tuple[str, str]]:
    """(column, regex) of the kind's code-shape checks (compared trimmed and upper-cased in SQL)."""
    return ([(c, INSTITUTION_CODE_RE) for c in kind.institution_codes]
            + [(c, PRACTITIONER_CODE_RE) for c in kind.practitioner_codes])


def type_problem(col: str, pg_type: str) -> str | None:
    """SQL boolean: the non-NULL text value does not parse as pg_type."""
    shape = type_pattern(pg_type)
    if shape is None:
        return None
    pattern, calendar = shape
    if calendar:
        # CASE, not OR: PostgreSQL does not promise left-to-right evaluation of OR
        return f"(CASE WHEN {col} !~ {lit(pattern)} THEN true ELSE {_bad_day(col)} END)"
    return f"{col} !~ {lit(pattern)}"


_TYPE_WORD = {TS: "timestamp", DATE: "date", INT: "number"}


def certno_digit_sql(col: str) -> str:
    terms = " + ".join(f"substr({col}, {i + 1}, 1)::int * {w}" for i, w in enumerate(CERTNO_WEIGHTS))
    return f"substr('10X98765432', (({terms}) % 11) + 1, 1)"


def required_columns(kind: Kind) -> list[str]:
    return list(dict.fromkeys([*kind.key, *kind.not_null]))


def _value_checks(kind: Kind) -> list[tuple[str, str, str]]:
    """(column, SQL boolean over the token @V@ (a value of the column), reason prefix), in reason order.

    A NULL check has the condition '@V@ IS NULL'; the others only see non-NULL values.
    """
    out: list[tuple[str, str, str]] = []
    for c in required_columns(kind):
        out.append((c, "@V@ IS NULL", f"required value missing: {c}"))
    for c, t in kind.columns.items():
        problem = type_problem("@V@", t)
        if problem:
            out.append((c, f"@V@ IS NOT NULL AND {problem}", f"unparsable {_TYPE_WORD.get(t, 'number')} in {c}: "))
    # codes are compared trimmed and upper-cased, as stg does; NULL codes are not a shape problem here
    for c, pattern in code_patterns(kind):
        out.append((c, f"@V@ IS NOT NULL AND upper(btrim(@V@)) !~ {lit(pattern)}",
                     f"wrong code shape in {c} (expected {pattern}): "))
    for c in kind.certno_columns:
        u = "upper(btrim(@V@))"
        out.append((c, f"@V@ IS NOT NULL AND upper(btrim(@V@)) !~ {lit(CERTNO_RE)}", f"wrong certno shape in {c}: "))
        out.append((c, f"@V@ IS NOT NULL AND (CASE WHEN {u} ~ {lit(CERTNO_RE)} THEN "
                       f"{certno_digit_sql(u)} <> substr({u}, 18, 1) ELSE false END)",
                     f"wrong certno check digit in {c}: "))
    return out


NULL_CHECK = "@V@ IS NULL"


def value_checks(kind: Kind) -> list[tuple[str, str, str]]:
    return _value_checks(kind)


def checked_columns(kind: Kind) -> list[str]:
    """Columns whose distinct values are checked (NULL checks are counted, not grouped)."""
    return list(dict.fromkeys(c for c, cond, _ in _value_checks(kind) if cond != NULL_CHECK))


def distinct_values_sql(kind: Kind, raw: str, vals: str) -> str:
    """One scan: the distinct values of every checked column (GROUPING SETS = one hash table per column)
    plus, in the total row (the empty set), the NULL count of every required column.

    Checking distinct values instead of rows keeps validation cheap: a day has
    3M fee lines but a few hundred institutions, dates, quantities.
    """
    cols = checked_columns(kind)
    nulls = ", ".join(f"count(*) FILTER (WHERE {c} IS NULL) AS null_{c}" for c in required_columns(kind))
    if not cols:
        return f"CREATE UNLOGGED TABLE {vals} AS SELECT 0 AS g, {nulls} FROM {raw}"
    sets = ", ".join(f"({c})" for c in cols)
    return (
        f"CREATE UNLOGGED TABLE {vals} AS SELECT GROUPING({', '.join(cols)}) AS g, {', '.join(cols)}, {nulls}"
        f" FROM {raw} GROUP BY GROUPING SETS ({sets}, ())"
    )


def total_mask(kind: Kind) -> int:
    return (1 << len(checked_columns(kind))) - 1


def grouping_mask(cols: list[str], c: str) -> int:
    # GROUPING() sets a bit for every argument NOT grouped in the row's set; first argument = highest bit
    n = len(cols)
    return (1 << n) - 1 - (1 << (n - 1 - cols.index(c)))


def null_checks_sql(kind: Kind, vals: str) -> str:
    """The NULL counts of the required columns (one row)."""
    cols = ", ".join(f"null_{c}" for c in required_columns(kind))
    return f"SELECT {cols} FROM {vals} WHERE g = {total_mask(kind)}"


def bad_values_sql(kind: Kind, vals: str, badv: str) -> str:
    """The failing distinct values: (check number, value). Small unless a column is garbage."""
    cols = checked_columns(kind)
    parts = ["SELECT -1 AS check_no, NULL::text AS v WHERE false"]
    for i, (c, cond, _reason) in enumerate(_value_checks(kind)):
        if cond == NULL_CHECK:
            continue
        parts.append(
            f"SELECT {i} AS check_no, {c} AS v FROM {vals} WHERE g = {grouping_mask(cols, c)} AND "
            + cond.replace("@V@", c)
        )
    return f"CREATE UNLOGGED TABLE {badv} AS " + " UNION ALL ".join(parts)


def null_check_numbers(kind: Kind, null_counts: dict[str, int]) -> list[int]:
    return [i for i, (c, cond, _) in enumerate(_value_checks(kind))
            if cond == NULL_CHECK and null_counts.get(c, 0) > 0]


def row_checks_sql(kind: Kind, raw: str, bad: str, badv: str, failing: list[int]) -> str | None:
    """Rows holding a failing value, with every reason of the row. None when no value failed."""
    checks_ = _value_checks(kind)
    parts, conds = [], []
    for i in sorted(set(failing)):
        c, cond, reason = checks_[i]
        if cond == NULL_CHECK:
            hit = f"r.{c} IS NULL"
            parts.append(f"CASE WHEN {hit} THEN {lit(reason)} END")
        else:
            hit = f"r.{c} IN (SELECT v FROM {badv} WHERE check_no = {i})"
            parts.append(f"CASE WHEN {hit} THEN {lit(reason)} || left(r.{c}, 60) END")
        conds.append(hit)
    if not parts:
        return None
    return (
        f"INSERT INTO {bad} (rid, reason) SELECT r.rid, concat_ws('; ', {', '.join(parts)})"
        f" FROM {raw} AS r WHERE {' OR '.join(conds)}"
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


def refund_checks_sql(kind: Kind, raw: str, bad: str, business_date: date, typed: str | None = None,
                      files: str | None = None) -> str:
    """Refund lines (init_feedetl_sn set) whose original is neither in this delivery nor already loaded.

    `typed` (with `files`): the delivery's originals are looked up in its typed copy instead of the text
    table, which then holds only the screened-out rows (ingestion.screen) — the refunds among them."""
    d = lit(business_date.isoformat())
    if typed is None:
        originals = f"""JOIN {raw} AS o
    ON o.fixmedins_code = f.fixmedins_code AND o.mdtrt_id = f.mdtrt_id AND o.feedetl_sn = f.init_feedetl_sn
  WHERE NOT EXISTS (SELECT 1 FROM {bad} AS b WHERE b.rid = o.rid)"""
    else:
        originals = f"""JOIN {typed} AS o
    ON o.fixmedins_code = f.fixmedins_code AND o.mdtrt_id = f.mdtrt_id AND o.feedetl_sn = f.init_feedetl_sn
  JOIN {files} AS fl ON fl.file_name = o.source_file
  WHERE NOT EXISTS (SELECT 1 FROM {bad} AS b WHERE b.rid = fl.first_rid + o.source_line - 2)"""
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
  {originals}
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
