"""Screening a daily file in a vectorised CSV reader instead of COPYing it as text (LOAD_SCREEN).

Why: the checks must see values as delivered, because PostgreSQL's input functions accept what the
contract refuses (' 7', '1e3', '2024-03-01T09:30', '1.234' rounded into numeric(16,2)). The text
copy that gave them that view cost a second full COPY of every file (~5.5 CPU s of a city day's fee
lines) plus a distinct-value scan of it (~2.2 s): about a third of the load's CPU on 2 cores.
pyarrow's streaming CSV reader parses the file in C++ for ~1.8 CPU s and evaluates the checks'
patterns over whole columns (RE2), so only the few rows that may fail a check, and the refund lines
(the refund check needs them), go into the text table. The SQL checks then run on those rows
exactly as they run on a full text copy: this module only decides which rows they need to see.

Soundness rule: a row is a suspect whenever any check *might* refuse it, never the other way round.
Code columns are matched untrimmed and case-sensitively (the SQL check trims and upper-cases: a
padded or lower-case code becomes a suspect, and SQL decides); timestamps and dates additionally
get the calendar test the SQL check does. Anything unusual — an encoding other than UTF-8 and GB18030, a parse
error, a row count that differs from PostgreSQL's typed COPY of the same file — raises
ScreenUnavailable and the loader takes the full text copy instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ingestion import checks
from ingestion.contract import Kind
from ingestion.csvfile import CsvHeader


class ScreenUnavailable(Exception):
    """The file cannot be screened (the loader COPYs it as text instead)."""


@dataclass
class FileScreen:
    name: str
    rows: int  # data records
    suspects: object  # pyarrow.Table: every contract column as delivered (string) + "record" (0-based)


def available() -> bool:
    try:
        import pyarrow.csv  # noqa: F401
    except ImportError:
        return False
    return True


def eligible(kind: Kind) -> bool:
    """Daily kinds; the certno check digit has no column-wise form here, so kinds with one are not."""
    return kind.section == "daily" and not kind.certno_columns


def _patterns(kind: Kind) -> list[tuple[str, str, bool]]:
    """(column, pattern a good value matches, calendar test) of every shape check of the kind: the
    SQL checks' own patterns (ingestion.checks), plain enough to mean the same in RE2. Codes are
    matched as delivered (SQL trims and upper-cases them first): a superset of SQL's failures."""
    out = []
    for c, t in kind.columns.items():
        shape = checks.type_pattern(t)
        if shape is not None:
            out.append((c, *shape))
    return out + [(c, pattern, False) for c, pattern in checks.code_patterns(kind)]


def _bad_calendar_day(values):
    """True where a value matching the date pattern names a day its month does not have (02-30)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def part(start: int, stop: int):
        return pc.cast(pc.utf8_slice_codeunits(values, start, stop), pa.int32())

    year, month, day = part(0, 4), part(5, 7), part(8, 10)

    def divisible(n: int):
        return pc.equal(pc.multiply(pc.divide(year, n), n), year)

    leap = pc.or_(pc.and_(divisible(4), pc.invert(divisible(100))), divisible(400))
    short = pc.is_in(month, value_set=pa.array([4, 6, 9, 11], pa.int32()))
    last = pc.if_else(pc.equal(month, 2), pc.if_else(leap, 29, 28), pc.if_else(short, 30, 31))
    return pc.greater(day, pc.cast(last, pa.int32()))


def _suspect_mask(kind: Kind, patterns: list[tuple[str, str, bool]], batch):
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    mask = pa.array(np.zeros(batch.num_rows, dtype=bool))
    for c in checks.required_columns(kind):
        mask = pc.or_(mask, pc.is_null(batch.column(c)))
    for c, pattern, calendar in patterns:
        col = batch.column(c)
        good = pc.fill_null(pc.match_substring_regex(col, pattern), True)  # NULL: the NULL checks' business
        mask = pc.or_(mask, pc.invert(good))
        if calendar:
            # the pattern admits day 29-31 of every month; only those values are cut into year/month/day
            late = pc.fill_null(pc.greater(pc.utf8_slice_codeunits(col, 8, 10), "28"), False)
            cand = pc.and_(good, late)
            if pc.any(cand).as_py():
                idx = pc.indices_nonzero(cand)
                over = pc.fill_null(_bad_calendar_day(pc.take(col, idx)), False)
                if pc.any(over).as_py():
                    flags = np.zeros(batch.num_rows, dtype=bool)
                    flags[pc.filter(idx, over).to_numpy()] = True
                    mask = pc.or_(mask, pa.array(flags))
    if "init_feedetl_sn" in kind.columns:  # refund lines: the refund check reads them from the text table
        mask = pc.or_(mask, pc.is_valid(batch.column("init_feedetl_sn")))
    return mask


ENCODINGS = {"UTF8": "utf8", "GB18030": "gb18030"}  # COPY ENCODING name -> Python codec pyarrow decodes with


def screen_file(kind: Kind, name: str, path: Path, header: CsvHeader, block_bytes: int,
                encoding: str = "UTF8") -> FileScreen:
    """Read `path` (`encoding` a COPY ENCODING name of ENCODINGS, header as `header`) and return its
    record count and suspect rows (as UTF-8 strings)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    read = pacsv.ReadOptions(column_names=header.columns, skip_rows=1, block_size=max(block_bytes, 1 << 20),
                             encoding=ENCODINGS[encoding], use_threads=False)
    # PostgreSQL's CSV COPY: RFC 4180 quoting, quoted line breaks, blank lines are errors
    parse = pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False)
    # FORCE_NULL: an empty value, quoted or not, is NULL; nothing else is
    convert = pacsv.ConvertOptions(
        column_types={c: pa.string() for c in header.columns}, null_values=[""], strings_can_be_null=True,
        quoted_strings_can_be_null=True, include_columns=list(kind.columns),
    )
    rows = 0
    parts = []
    patterns = _patterns(kind)
    try:
        with pacsv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert) as reader:
            for batch in reader:
                mask = _suspect_mask(kind, patterns, batch)
                if pc.any(mask).as_py():
                    picked = batch.filter(mask)
                    record = pc.add(pc.indices_nonzero(mask), rows)
                    parts.append(pa.Table.from_batches([picked]).append_column("record", record))
                rows += batch.num_rows
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError, OSError) as exc:
        raise ScreenUnavailable(f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
    schema = pa.schema([*(pa.field(c, pa.string()) for c in kind.columns), pa.field("record", pa.uint64())])
    suspects = pa.concat_tables(parts).cast(schema) if parts else schema.empty_table()
    return FileScreen(name, rows, suspects)


def suspects_csv(screen: FileScreen, first_rid: int, file_no: int) -> tuple[list[str], bytes]:
    """The suspect rows as CSV for COPY into the text table: rid (record order, as the full text copy
    numbers it), file_no, then the contract columns as delivered (empty = NULL)."""
    import io

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    t = screen.suspects
    rid = pc.add(pc.cast(t.column("record"), pa.int64()), first_rid)
    cols = [c for c in t.column_names if c != "record"]
    out = pa.table({"rid": rid, "file_no": pa.array([file_no] * t.num_rows, pa.int32()),
                    **{c: t.column(c) for c in cols}})
    buf = io.BytesIO()
    pacsv.write_csv(out, buf, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    return ["rid", "file_no", *cols], buf.getvalue()
