"""The versioned GX suites (expectations/gx/expectations/*.json) evaluated as SQL, without importing GX.

Why: importing great_expectations and running a checkpoint costs 3-12 s per
process before any data is read, and every Airflow load task is a new process;
the suites' six expectation types are plain aggregates PostgreSQL computes in
one scan. The suite JSON stays the contract (written by ingestion.gx_suites,
rendered into Data Docs by ingestion.gx_docs); an expectation type or kwarg
this module does not know makes evaluate() return None and the loader runs the
suite through a real GX checkpoint instead, so nothing is ever skipped.
tests/test_ingestion_gx.py checks, expectation by expectation, that both
engines agree on success and unexpected_count.

Semantics follow GX 1.x on SQL: column map expectations ignore NULLs (except
not_null) and count unexpected rows; "unique" counts every row of a
duplicated value; `mostly` is the share of non-NULL rows that must pass.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from ingestion.checks import grouping_mask, lit
from ingestion.contract import Kind

EXPECTATIONS_DIR = Path(__file__).resolve().parent.parent / "expectations"
SUITES_DIR = EXPECTATIONS_DIR / "gx" / "expectations"
EXAMPLES_MAX = 20

NOT_NULL = "expect_column_values_to_not_be_null"
IN_SET = "expect_column_values_to_be_in_set"
REGEX = "expect_column_values_to_match_regex"
UNIQUE = "expect_column_values_to_be_unique"
COMPOUND_UNIQUE = "expect_compound_columns_to_be_unique"
ROW_COUNT = "expect_table_row_count_to_be_between"

# kwargs each type may carry; anything else (row_condition, parse_strings_as_datetimes, ...) -> GX
_KWARGS = {
    NOT_NULL: {"column", "mostly"},
    IN_SET: {"column", "value_set", "mostly"},
    REGEX: {"column", "regex", "mostly"},
    UNIQUE: {"column", "mostly"},
    COMPOUND_UNIQUE: {"column_list", "mostly", "ignore_row_if"},
    ROW_COUNT: {"min_value", "max_value"},
}


def suite_name(kind: Kind) -> str:
    return f"{kind.name}_arrival"


@functools.cache
def _suite_text(path: Path, mtime_ns: int) -> str:
    return path.read_text(encoding="utf-8")


def load_suite(kind: Kind) -> dict:
    """The versioned suite of the kind as stored (a fresh copy; cached per file version)."""
    path = SUITES_DIR / f"{suite_name(kind)}.json"
    return json.loads(_suite_text(path, path.stat().st_mtime_ns))


def supported(expectation: dict) -> bool:
    allowed = _KWARGS.get(expectation.get("type", ""))
    if allowed is None or not set(expectation.get("kwargs", {})) <= allowed:
        return False
    kw = expectation["kwargs"]
    if expectation["type"] == COMPOUND_UNIQUE and kw.get("ignore_row_if", "all_values_are_missing") != (
            "all_values_are_missing"):
        return False
    return True


def check_column(expectation: dict) -> tuple[str, str] | None:
    """(chk_ column, violation SQL) of a row-level business check, else None."""
    sql = (expectation.get("meta") or {}).get("violation_sql")
    return (expectation["kwargs"]["column"], sql) if sql else None


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    return lit(str(v))


def _ident(c: str) -> str:
    return '"' + c.replace('"', '""') + '"'


@dataclass
class Evaluated:
    expectation: dict
    success: bool
    unexpected_count: int | None
    element_count: int
    missing_count: int | None = None
    observed_value: Any = None
    examples: list | None = None
    bounds: tuple | None = None  # row count: the resolved (min, max) parameters

    @property
    def result(self) -> dict:
        """The GX-style result dict (SUMMARY shape, as far as it is known)."""
        if self.expectation["type"] == ROW_COUNT:
            lo, hi = self.bounds or (None, None)
            return {"observed_value": self.observed_value, "min_value": lo, "max_value": hi}
        out: dict[str, Any] = {"element_count": self.element_count, "unexpected_count": self.unexpected_count}
        if self.missing_count is not None:
            out["missing_count"] = self.missing_count
        nonmissing = self.element_count - (self.missing_count or 0)
        base = self.element_count if self.expectation["type"] == NOT_NULL else nonmissing
        out["unexpected_percent"] = (100.0 * (self.unexpected_count or 0) / base) if base else None
        if self.examples is not None:
            out["partial_unexpected_list"] = self.examples
        return out


def _bad_condition(e: dict) -> str:
    """SQL boolean over the table: the row is unexpected for this (column map) expectation."""
    kw = e["kwargs"]
    t = e["type"]
    if t == NOT_NULL:
        return f"{_ident(kw['column'])} IS NULL"
    c = _ident(kw["column"])
    if t == IN_SET:
        vals = kw["value_set"]
        if not vals:
            return f"{c} IS NOT NULL"
        return f"{c} IS NOT NULL AND {c} NOT IN ({', '.join(_value(v) for v in vals)})"
    if t == REGEX:
        return f"{c} IS NOT NULL AND NOT ({c} ~ {lit(kw['regex'])})"
    raise ValueError(t)


def _resolve(v: Any, params: dict) -> Any:
    if isinstance(v, dict) and "$PARAMETER" in v:
        return params[v["$PARAMETER"]]
    return v


def _mostly_ok(e: dict, unexpected: int, base: int) -> bool:
    mostly = e["kwargs"].get("mostly")
    if mostly is None or base == 0:
        return unexpected == 0
    return (base - unexpected) / base >= float(mostly)


def evaluate(conn: psycopg.Connection, relation: str, kind: Kind, params: dict) -> list[Evaluated] | None:
    """Every expectation of the kind's suite over `relation` (a view exposing the chk_ columns), in suite
    order; None when the suite holds something this engine does not evaluate (the caller runs GX)."""
    exps = load_suite(kind)["expectations"]
    if not all(supported(e) for e in exps):
        return None
    # Column map expectations: counts of unexpected and missing rows. Regexes are the costly part
    # (~1.5 us a row); they run on distinct values weighted by their row counts, in a second hash
    # aggregate query. Up to two regex columns: their distinct combinations (institution and
    # practitioner codes go together: 18k combinations in a city day's 3M fee lines). More: a
    # grouping set per column, because three code columns of a visit (institution, doctor,
    # diagnosis) combine to nearly one value per row (his_mdtrt: 0.83 -> 0.27 s a city day).
    scans: dict[str, list[str]] = {"rows": ["count(*)"], "values": []}
    slots: list[tuple[int, str, int, int | None]] = []  # (expectation, scan, unexpected slot, missing slot)
    regex_cols = list(dict.fromkeys(e["kwargs"]["column"] for e in exps if e["type"] == REGEX))
    per_column = len(regex_cols) > 2
    for i, e in enumerate(exps):
        t = e["type"]
        if t not in (NOT_NULL, IN_SET, REGEX):
            continue
        scan = "values" if t == REGEX else "rows"
        agg = scans[scan]
        if scan == "values":
            # per column: the rows of this column's grouping set only
            only = f"g = {grouping_mask(regex_cols, e['kwargs']['column'])} AND " if per_column else ""
            count = "coalesce(sum(n) FILTER (WHERE " + only + "{}), 0)"
        else:
            count = "count(*) FILTER (WHERE {})"
        agg.append(count.format(_bad_condition(e)))
        miss = None
        if t != NOT_NULL:
            agg.append(count.format(f"{_ident(e['kwargs']['column'])} IS NULL"))
            miss = len(agg) - 1
        slots.append((i, scan, len(agg) - 1 - (1 if miss is not None else 0), miss))
    rows = {"rows": conn.execute(f"SELECT {', '.join(scans['rows'])} FROM {relation}").fetchone()}
    if scans["values"]:
        keys = ", ".join(_ident(c) for c in regex_cols)
        groups = "GROUPING SETS (" + ", ".join(f"({_ident(c)})" for c in regex_cols) + ")" if per_column else keys
        rows["values"] = conn.execute(
            f"SELECT {', '.join(scans['values'])} FROM (SELECT GROUPING({keys}) AS g, {keys}, count(*) AS n"
            f" FROM {relation} GROUP BY {groups}) AS v"
        ).fetchone()
    n = int(rows["rows"][0])
    out: list[Evaluated | None] = [None] * len(exps)
    for i, scan, u_slot, m_slot in slots:
        e = exps[i]
        unexpected = int(rows[scan][u_slot])
        missing = int(rows[scan][m_slot]) if m_slot is not None else None
        base = n if e["type"] == NOT_NULL else n - (missing or 0)
        out[i] = Evaluated(e, _mostly_ok(e, unexpected, base), unexpected, n, missing)
    for i, e in enumerate(exps):
        t, kw = e["type"], e["kwargs"]
        if t == ROW_COUNT:
            lo, hi = _resolve(kw.get("min_value"), params), _resolve(kw.get("max_value"), params)
            ok = (lo is None or n >= lo) and (hi is None or n <= hi)
            out[i] = Evaluated(e, ok, None, n, observed_value=n, bounds=(lo, hi))
        elif t in (UNIQUE, COMPOUND_UNIQUE):
            cols = [kw["column"]] if t == UNIQUE else list(kw["column_list"])
            keys = ", ".join(_ident(c) for c in cols)
            # UNIQUE ignores NULLs; compound ignores a row only when all its values are missing
            keep = " AND ".join(f"{_ident(c)} IS NOT NULL" for c in cols) if t == UNIQUE else (
                "NOT (" + " AND ".join(f"{_ident(c)} IS NULL" for c in cols) + ")")
            dup, nonmissing = conn.execute(
                f"SELECT coalesce(sum(k) FILTER (WHERE k > 1), 0), coalesce(sum(k), 0) FROM"
                f" (SELECT count(*) AS k FROM {relation} WHERE {keep} GROUP BY {keys}) AS g"
            ).fetchone()
            out[i] = Evaluated(e, _mostly_ok(e, int(dup), int(nonmissing)), int(dup), n, n - int(nonmissing))
    for ev in out:
        assert ev is not None
        if not ev.success and ev.expectation["type"] != ROW_COUNT:
            ev.examples = _examples(conn, relation, ev.expectation)
    return [ev for ev in out if ev is not None]


def _examples(conn: psycopg.Connection, relation: str, e: dict) -> list:
    """Up to 20 unexpected values, like GX's partial_unexpected_list (in file order, for stable messages)."""
    t, kw = e["type"], e["kwargs"]
    order = "ORDER BY source_file, source_line"
    if t in (NOT_NULL, IN_SET, REGEX):
        sql = (f"SELECT {_ident(kw['column'])} FROM {relation} WHERE {_bad_condition(e)} {order}"
               f" LIMIT {EXAMPLES_MAX}")
        return [r[0] for r in conn.execute(sql).fetchall()]
    cols = [kw["column"]] if t == UNIQUE else list(kw["column_list"])
    keys = ", ".join(_ident(c) for c in cols)
    rows = conn.execute(
        f"SELECT {keys} FROM {relation} WHERE ({keys}) IN (SELECT {keys} FROM {relation} GROUP BY {keys}"
        f" HAVING count(*) > 1) {order} LIMIT {EXAMPLES_MAX}"
    ).fetchall()
    return [r[0] for r in rows] if t == UNIQUE else [dict(zip(cols, r, strict=True)) for r in rows]
