"""Loading one kind of one delivery folder: COPY -> set-based checks -> GX -> atomic swap.

Phases (docs/ingestion.md has the why):
  stage    COPY every file of the kind, streamed in chunks, into UNLOGGED load.raw_<id>
           (all text, identity column = record order); sha256 and record counts
           are checked against the manifest on the way. Any file refused = the
           kind is refused for that date.
  check    row checks, duplicate keys, orphan refunds -> load.bad_<id>; good rows
           cast into load.new_<id> (the future partition), bad ones into load.q_<id>.
  validate Great Expectations suite of the kind over load.new_<id> (SQL in the DB).
  publish  one transaction: swap load.new_<id> in as the business_date partition
           (reference kinds: replace that snapshot_date's rows), write quarantine,
           validation results and the ledger. Nothing is visible before COMMIT.
Scratch tables live in schema `load`; a crashed load's leftovers are dropped by
the next load (its session advisory lock on the load id is gone).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import psycopg

from ingestion import checks, screen, typed_copy
from ingestion.contract import KINDS, Kind
from ingestion.csvfile import (
    FileRejected,
    StreamStats,
    detect_encoding,
    pg_encoding,
    read_header,
    stream_data,
)
from ingestion.delivery import DeliveryRef, discover, folder_refs, last_loaded_fingerprints
from ingestion.schema import ensure_schema, key_index_columns
from warehouse.config import settings

log = logging.getLogger("ingestion")
WORK_MEM = "256MB"
PARALLEL_INSERT_ROWS = 500_000  # a kind with fewer rows than this per slice inserts in one statement


@dataclass
class FileResult:
    name: str
    sha256: str | None = None
    encoding: str | None = None
    rows_in_file: int | None = None
    rows_loaded: int = 0
    rows_quarantined: int = 0
    status: str = "pending"
    error: str | None = None


@dataclass
class KindLoadResult:
    section: str
    business_date: date
    kind: str
    status: str = "pending"  # loaded / rejected / failed / unchanged
    load_id: int | None = None
    rows_in_file: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    error: str | None = None
    files: list[FileResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    typed_copy: bool = False  # the good rows came from the typed COPY (ingestion.typed_copy), not a cast
    screened: bool = False  # the checks read only the rows pyarrow screened out (ingestion.screen)

    @property
    def ok(self) -> bool:
        return self.status in ("loaded", "unchanged")

    def summary(self) -> str:
        head = f"{self.section}/{self.business_date} {self.kind}: {self.status}"
        if self.status == "loaded":
            head += (
                f" rows={self.rows_in_file} loaded={self.rows_loaded} quarantined={self.rows_quarantined}"
                f" in {sum(self.timings.values()):.1f}s"
            )
        if self.error:
            head += f" — {self.error}"
        return head


class KindRejected(Exception):
    """The kind is refused as a whole (a critical expectation failed)."""


def _pause(phase: str) -> None:
    s = settings()
    if s.ingest_pause_at == phase and s.ingest_pause_seconds > 0:
        log.warning("INGEST_PAUSE_AT=%s: sleeping %.1fs (test hook)", phase, s.ingest_pause_seconds)
        time.sleep(s.ingest_pause_seconds)


def partition_name(kind: Kind, d: date) -> str:
    return f"{kind.name}_p{d:%Y%m%d}"


_SCRATCH_RE = re.compile(r"^(raw|bad|new|files|q|vals|badv)_(\d+)$")


def drop_orphan_scratch(conn: psycopg.Connection, own_id: int) -> None:
    """Drop load.* tables of loads whose process is gone (its advisory lock on the id is free)."""
    names = [r[0] for r in conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'load'"
    ).fetchall()]
    ids: dict[int, list[str]] = {}
    for n in names:
        m = _SCRATCH_RE.match(n)
        if m:
            ids.setdefault(int(m.group(2)), []).append(n)
    for load_id, tables in ids.items():
        if load_id == own_id:
            continue
        if conn.execute("SELECT pg_try_advisory_lock(%s)", (load_id,)).fetchone()[0]:
            try:
                for t in tables:
                    conn.execute(f"DROP TABLE IF EXISTS load.{t} CASCADE")
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (load_id,))


class _KindLoad:
    def __init__(self, conn: psycopg.Connection, ref: DeliveryRef, load_id: int, conn_url: str):
        self.conn = conn
        self.ref = ref
        self.kind = KINDS[ref.kind]
        self.load_id = load_id
        self.conn_url = conn_url
        self.raw = f"load.raw_{load_id}"
        self.bad = f"load.bad_{load_id}"
        self.new = f"load.new_{load_id}"
        self.files_t = f"load.files_{load_id}"
        self.q = f"load.q_{load_id}"
        self.vals = f"load.vals_{load_id}"
        self.badv = f"load.badv_{load_id}"
        self.result = KindLoadResult(ref.section, ref.business_date, ref.kind, load_id=load_id)
        self.result.files = [FileResult(f.name) for f in ref.files]
        self.validation: list = []
        self.validated = False
        self.screened = False  # the text table holds only the screened-out rows (ingestion.screen)
        self.typed: typed_copy.TypedCopy | None = None

    # ---------------------------------------------------------------- stage
    def stage(self) -> None:
        self._start_typed_copy()
        with self.conn.transaction():
            self._create_text_tables()
            if not self._stage_screened():
                self._stage_text()
        _pause("after_copy")

    def _create_text_tables(self) -> None:
        cols = ", ".join(f"{c} text" for c in self.kind.columns)
        self.conn.execute(
            f"CREATE UNLOGGED TABLE {self.raw} (rid bigint GENERATED ALWAYS AS IDENTITY, "
            f"file_no integer NOT NULL DEFAULT 0, {cols})"
        )
        self.conn.execute(
            f"CREATE UNLOGGED TABLE {self.files_t} (file_no integer PRIMARY KEY, file_name text NOT NULL,"
            " first_rid bigint NOT NULL, rows bigint NOT NULL)"
        )

    def _stage_text(self) -> None:
        """The text copy of every file (every row: the checks' view of the values as delivered)."""
        n_extra = 0
        for i, (mf, fr) in enumerate(zip(self.ref.files, self.result.files, strict=True)):
            n_extra = self._stage_file(i, mf, fr, n_extra)

    def _stage_screened(self) -> bool:
        """With the typed copy of the files under way, screen them in pyarrow (ingestion.screen)
        and put only the rows the checks need into the text table; False = not applicable here (the
        text copy follows). The manifest is checked against the typed COPY's counts and checksums."""
        if self.typed is None or not self.typed.checksums:  # the typed copy knows whether to screen
            return False
        t = time.monotonic()
        try:
            screens = [screen.screen_file(self.kind, f.name, f.path, f.header, settings().load_chunk_bytes,
                                          f.encoding) for f in self.typed.files]
        except screen.ScreenUnavailable as exc:
            log.info("%s: not screened (%s); copying the files as text", self.kind.name, exc)
            return False
        rows = self.typed.wait()
        if rows is None:  # a value the typed COPY cannot read: the text copy and the cast path decide
            return False
        if rows != [s.rows for s in screens]:
            log.warning("%s: pyarrow read %s records, the typed COPY %s; copying the files as text",
                        self.kind.name, [s.rows for s in screens], rows)
            return False
        first = 1
        for i, (mf, fr, sc, st) in enumerate(zip(self.ref.files, self.result.files, screens, self.typed.stats,
                                                 strict=True)):
            fr.sha256, fr.encoding, fr.rows_in_file = st.sha256, self.typed.files[i].encoding, sc.rows
            self._check_manifest(mf, sc.rows, st.sha256)
            self.conn.execute(f"INSERT INTO {self.files_t} VALUES (%s, %s, %s, %s)", (i, mf.name, first, sc.rows))
            if sc.suspects.num_rows:
                cols, data = screen.suspects_csv(sc, first, i)
                with self.conn.cursor() as cur, cur.copy(
                    f"COPY {self.raw} ({', '.join(cols)}) FROM STDIN WITH (FORMAT csv,"
                    f" FORCE_NULL ({', '.join(cols[2:])}))"
                ) as cp:
                    cp.write(data)
            log.info("%s: %d rows copied (%s, sha256 ok), typed; %d screened out for the checks", mf.name,
                     sc.rows, fr.encoding, sc.suspects.num_rows)
            first += sc.rows
        self.screened = True
        self.result.screened = True
        log.info("%s: screened in %.1fs", self.kind.name, time.monotonic() - t)
        return True

    def _date_col(self) -> str:
        return "business_date" if self.kind.section == "daily" else "snapshot_date"

    def _create_new_sql(self) -> str:
        k, d = self.kind, self.ref.business_date
        return (
            f"CREATE TABLE {self.new} (LIKE {k.table} INCLUDING DEFAULTS, "
            f"CONSTRAINT {partition_name(k, d)}_date_check CHECK ({self._date_col()} = {checks.lit(d.isoformat())}::date))"
        )

    def _key_index_sql(self) -> str:
        return f"CREATE UNIQUE INDEX ON {self.new} ({', '.join(key_index_columns(self.kind))})"

    def _start_typed_copy(self) -> None:
        """Daily kinds: COPY the files typed into the future partition on a second connection while
        this one COPYs them as text (ingestion.typed_copy has the why)."""
        if self.kind.section != "daily" or not settings().load_typed_copy:
            return
        files = typed_copy.plan(self.kind, self.ref.files)
        if files is None:
            return
        screening = (settings().load_screen and screen.eligible(self.kind)
                     and not {f.encoding for f in files} - set(screen.ENCODINGS) and screen.available())
        self.typed = typed_copy.TypedCopy(
            self.conn_url, self.new, self._create_new_sql(), self._key_index_sql(), self._date_col(),
            self.ref.business_date.isoformat(), self.load_id, self.kind, files, settings().load_chunk_bytes,
            checksums=screening,
        ).start()

    def _typed_rows(self) -> int | None:
        """Rows the typed copy keeps once the refused rows are deleted from it; None = no typed copy
        (never started, or it failed: load.new_<id> does not exist then)."""
        if self.typed is None:
            return None
        rows = self.typed.wait()
        if rows is None:
            return None
        expected = [fr.rows_in_file for fr in self.result.files]
        encodings = [fr.encoding for fr in self.result.files]
        if rows != expected or encodings != self.typed.encodings:  # read differently from the text copy
            log.warning("%s: typed COPY read %s rows as %s, the text copy %s as %s; casting from the text copy",
                        self.kind.name, rows, self.typed.encodings, expected, encodings)
            self.typed.cancel()  # its index build, before the DROP that would wait for it
            self.conn.execute(f"DROP TABLE IF EXISTS {self.new}")
            return None
        deleted = 0
        if self.conn.execute(f"SELECT EXISTS (SELECT 1 FROM {self.bad})").fetchone()[0]:
            deleted = self.conn.execute(
                f"DELETE FROM {self.new} AS n USING {self.bad} AS b JOIN {self.files_t} AS f"
                f" ON b.rid >= f.first_rid AND b.rid < f.first_rid + f.rows"
                f" WHERE n.source_file = f.file_name AND n.source_line = (b.rid - f.first_rid + 2)::integer"
            ).rowcount
        return sum(rows) - deleted

    def _stage_file(self, i: int, mf, fr: FileResult, n_extra: int) -> int:
        k = self.kind
        if not mf.path.is_file():
            raise FileRejected(mf.name, "listed in manifest.json but not in the folder")
        try:
            declared = pg_encoding(mf.encoding)
        except ValueError as exc:
            raise FileRejected(mf.name, str(exc)) from None
        enc = declared or detect_encoding(mf.path)
        try:
            header = read_header(mf.path, enc)
        except UnicodeDecodeError:
            if declared:
                raise FileRejected(mf.name, f"header does not decode as declared encoding {declared}") from None
            enc = "GB18030"
            header = read_header(mf.path, enc)
        missing = [c for c in k.columns if c not in header.columns]
        if missing:
            raise FileRejected(mf.name, "missing column(s): " + ", ".join(missing))
        targets: list[str] = []
        seen: set[str] = set()
        extra_i = 0
        for c in header.columns:
            if c in k.columns and c not in seen:
                targets.append(c)
                seen.add(c)
            else:  # extra (or repeated) column: COPY needs somewhere to put it; it is never read
                extra_i += 1
                if extra_i > n_extra:
                    self.conn.execute(f"ALTER TABLE {self.raw} ADD COLUMN x_{extra_i} text")
                    n_extra = extra_i
                targets.append(f"x_{extra_i}")
        self.conn.execute(f"ALTER TABLE {self.raw} ALTER COLUMN file_no SET DEFAULT {i}")
        chunk = settings().load_chunk_bytes
        attempts = [enc] if (declared or enc == "GB18030") else [enc, "GB18030"]
        for n, attempt in enumerate(attempts):
            start = self.conn.execute(
                f"SELECT nextval(pg_get_serial_sequence('{self.raw}', 'rid'))"
            ).fetchone()[0] + 1
            stats = StreamStats()
            copy_sql = (
                f"COPY {self.raw} ({', '.join(targets)}) FROM STDIN WITH (FORMAT csv, HEADER false, "
                f"ENCODING '{attempt}', FORCE_NULL ({', '.join(c for c in targets if c in k.columns)}))"
            )
            try:
                with self.conn.transaction(), self.conn.cursor() as cur:
                    with cur.copy(copy_sql) as cp:
                        for data in stream_data(mf.path, header, chunk, stats):
                            cp.write(data)
                    rows = cur.rowcount
                enc = attempt
                break
            except (psycopg.errors.CharacterNotInRepertoire, psycopg.errors.UntranslatableCharacter) as exc:
                if n + 1 < len(attempts):
                    log.info("%s: not valid UTF-8 past the probe, retrying as GB18030", mf.name)
                    continue
                self._manifest_first(mf)
                raise FileRejected(mf.name, f"does not decode as {attempt}: {exc.diag.message_primary}") from None
            except psycopg.errors.DataError as exc:
                self._manifest_first(mf)
                raise FileRejected(mf.name, f"malformed CSV: {exc.diag.message_primary} ({exc.diag.context})") from None
        fr.sha256, fr.encoding, fr.rows_in_file = stats.sha256, enc, rows
        self._check_manifest(mf, rows, stats.sha256)
        self.conn.execute(
            f"INSERT INTO {self.files_t} VALUES (%s, %s, %s, %s)", (i, mf.name, start, rows)
        )
        log.info("%s: %d rows copied (%s, sha256 ok)", mf.name, rows, enc)
        return n_extra

    @staticmethod
    def _check_manifest(mf, rows: int, sha256: str) -> None:
        problems = []
        if mf.rows is not None and mf.rows != rows:
            problems.append(f"rows expected {mf.rows}, actual {rows}")
        if mf.sha256 is not None and mf.sha256 != sha256:
            problems.append(f"sha256 expected {mf.sha256}, actual {sha256}")
        if problems:
            raise FileRejected(mf.name, "does not match manifest.json: " + "; ".join(problems))

    def _manifest_first(self, mf) -> None:
        """A file COPY could not read: when its checksum disagrees with the manifest, say that (the
        usual cause, a truncated transfer) rather than the parse error it led to."""
        if mf.sha256 is None:
            return
        h = hashlib.sha256()
        with open(mf.path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
        if h.hexdigest() != mf.sha256:
            raise FileRejected(mf.name, f"does not match manifest.json: sha256 expected {mf.sha256}, "
                                        f"actual {h.hexdigest()}")

    # ---------------------------------------------------------------- check
    def check(self) -> None:
        # Session settings, not one transaction: the connection is this load's alone (closed after it),
        # and the candidate must be committed for the helper connections of _insert_good to fill it.
        self.conn.execute(f"SET work_mem = {checks.lit(WORK_MEM)}")
        # the key index of a city day (3M keys) then sorts in memory, with parallel workers
        self.conn.execute("SET maintenance_work_mem = '512MB'")
        self._analyze_text_table()
        loaded_rows = None
        if self.screened:
            loaded_rows = self._check_screened()
            if loaded_rows is None:
                self._restart_as_text()
        if not self.screened:
            loaded_rows = self._check_text()
        self._finish_check(loaded_rows)

    def _analyze_text_table(self) -> None:
        # a small sample is enough for the planner to size the joins of the checks
        self.conn.execute("SET default_statistics_target = 10")
        self.conn.execute(f"ANALYZE {self.raw}")
        self.conn.execute("RESET default_statistics_target")

    def _use_typed_copy(self) -> int | None:
        """The typed copy's rows once the refused ones are deleted, with the expectation suite run on
        this connection while the typed copy's builds the key index; None = no usable typed copy (none,
        it failed, or a key repeats in the delivery: the index failed and the table is dropped)."""
        loaded_rows = self._typed_rows()
        if loaded_rows is None:
            return None
        self._run_suite()
        if not self.typed.wait_index():
            self.conn.execute(f"DROP TABLE IF EXISTS {self.new}")
            self.validation, self.validated = [], False
            return None
        return loaded_rows

    def _value_checks(self) -> None:
        """Row checks of the text table into load.bad_<id> (ingestion.checks)."""
        k = self.kind
        self.conn.execute(f"CREATE UNLOGGED TABLE {self.bad} (rid bigint NOT NULL, reason text NOT NULL)")
        # value checks run on distinct values; rows are only scanned when some value failed
        self.conn.execute(checks.distinct_values_sql(k, self.raw, self.vals))
        row = self.conn.execute(checks.null_checks_sql(k, self.vals)).fetchone()
        nulls = dict(zip((f"{c}" for c in checks.required_columns(k)), row or (), strict=False))
        self.conn.execute(checks.bad_values_sql(k, self.vals, self.badv))
        failing = [r[0] for r in self.conn.execute(f"SELECT DISTINCT check_no FROM {self.badv}").fetchall()]
        failing += checks.null_check_numbers(k, nulls)
        row_sql = checks.row_checks_sql(k, self.raw, self.bad, self.badv, failing)
        if row_sql:
            self.conn.execute(row_sql)

    def _check_screened(self) -> int | None:
        """The checks over the screened-out rows (all the rows a check can refuse, and the refunds);
        the rows they refuse are deleted from the typed copy. None = the text path must decide (a key
        repeated in the delivery fails the typed copy's index)."""
        k, d = self.kind, self.ref.business_date
        self._value_checks()
        if k.name in checks.FEE_KINDS:
            self.conn.execute(f"ANALYZE {self.bad}")
            # originals of this delivery are looked up in the typed copy: it holds every row
            self.conn.execute(checks.refund_checks_sql(k, self.raw, self.bad, d, typed=self.new,
                                                       files=self.files_t))
        loaded_rows = self._use_typed_copy()
        self.result.typed_copy = loaded_rows is not None
        return loaded_rows

    def _restart_as_text(self) -> None:
        """Back to the start with the full text copy and the cast path (duplicates are found there)."""
        log.info("%s: a key repeats in the delivery; checking the full text copy", self.kind.name)
        if self.typed is not None:
            self.typed.cancel()
        for t in (self.raw, self.bad, self.new, self.files_t, self.vals, self.badv):
            self.conn.execute(f"DROP TABLE IF EXISTS {t}")
        self.typed, self.screened, self.result.screened, self.result.typed_copy = None, False, False, False
        self.validation, self.validated = [], False
        with self.conn.transaction():
            self._create_text_tables()
            self._stage_text()
        self._analyze_text_table()

    def _check_text(self) -> int:
        k, d = self.kind, self.ref.business_date
        self._value_checks()
        if k.name in checks.FEE_KINDS:
            self.conn.execute(f"ANALYZE {self.bad}")
            self.conn.execute(checks.refund_checks_sql(k, self.raw, self.bad, d))
        if k.section == "daily":
            # The partition's unique key index is needed anyway (refund look-ups, dbt joins); building
            # it is also the duplicate check of the clean case. Only when it fails do we look for the
            # duplicates row by row and insert again without them.
            loaded_rows = self._use_typed_copy()
            self.result.typed_copy = loaded_rows is not None
            if loaded_rows is None:
                self.conn.execute(self._create_new_sql())
                loaded_rows = self._insert_good()
                try:
                    with self.conn.transaction():
                        self.conn.execute(self._key_index_sql())
                except psycopg.errors.UniqueViolation:
                    self.conn.execute(f"TRUNCATE {self.new}")
                    self.conn.execute(f"ANALYZE {self.bad}")
                    self.conn.execute(checks.duplicate_checks_sql(k, self.raw, self.bad, self.files_t))
                    loaded_rows = self._insert_good()
                    self.conn.execute(self._key_index_sql())
        else:
            self.conn.execute(self._create_new_sql())
            self.conn.execute(f"ANALYZE {self.bad}")
            self.conn.execute(checks.duplicate_checks_sql(k, self.raw, self.bad, self.files_t))
            loaded_rows = self._insert_good()
        return loaded_rows

    def _finish_check(self, loaded_rows: int) -> None:
        """The quarantine rows (bad rows with their text) and the reconciled counts."""
        k, dlit = self.kind, checks.lit(self.ref.business_date.isoformat())
        self.result.rows_loaded = loaded_rows
        no_bad = "" if self.conn.execute(f"SELECT EXISTS (SELECT 1 FROM {self.bad})").fetchone()[0] else " LIMIT 0"
        self.conn.execute(f"ANALYZE {self.bad}")
        self.conn.execute(
            f"CREATE UNLOGGED TABLE {self.q} AS SELECT {self.load_id}::bigint AS load_id, {dlit}::date"
            f" AS business_date, {checks.lit(k.name)}::text AS kind, f.file_name,"
            f" (r.rid - f.first_rid + 2)::integer AS line_no, {checks.raw_row_json_sql(k)} AS raw_row,"
            f" b.reason FROM {self.bad} AS b JOIN {self.raw} AS r ON r.rid = b.rid"
            f" JOIN {self.files_t} AS f ON f.file_no = r.file_no{no_bad}"
        )
        # no ANALYZE of the new partition here: autovacuum does it after the insert, off the load's clock
        q_counts = dict(self.conn.execute(
            f"SELECT file_name, count(*) FROM {self.q} GROUP BY 1"
        ).fetchall())
        if len(self.ref.files) == 1:
            loaded = {self.ref.files[0].name: self.result.rows_loaded}
        else:
            loaded = dict(self.conn.execute(
                f"SELECT source_file, count(*) FROM {self.new} GROUP BY 1"
            ).fetchall())
        for fr in self.result.files:
            fr.rows_loaded = int(loaded.get(fr.name, 0))
            fr.rows_quarantined = int(q_counts.get(fr.name, 0))
            if fr.rows_loaded + fr.rows_quarantined != fr.rows_in_file:  # a bug, never data
                raise RuntimeError(
                    f"{fr.name}: counts do not reconcile: {fr.rows_in_file} in file, "
                    f"{fr.rows_loaded} loaded + {fr.rows_quarantined} quarantined"
                )
        self.result.rows_quarantined = sum(q_counts.values())
        self.result.rows_in_file = sum(fr.rows_in_file or 0 for fr in self.result.files)

    def _insert_sql(self) -> str:
        """INSERT of the rows not in load.bad_<id>, cast; without the anti-join and the file join when
        there is nothing bad and one file (the usual day: ~10 % of the statement's time)."""
        k, d = self.kind, self.ref.business_date
        date_col = self._date_col()
        casts = ", ".join(checks.cast_sql("r." + c, t) for c, t in k.columns.items())
        files = self.conn.execute(f"SELECT file_name, first_rid FROM {self.files_t}").fetchall()
        if len(files) == 1:
            name, first = files[0]
            src, line, join = checks.lit(name), f"(r.rid - {int(first)} + 2)::integer", ""
        else:
            src, line = "f.file_name", "(r.rid - f.first_rid + 2)::integer"
            join = f" JOIN {self.files_t} AS f ON f.file_no = r.file_no"
        any_bad = self.conn.execute(f"SELECT EXISTS (SELECT 1 FROM {self.bad})").fetchone()[0]
        where = f"NOT EXISTS (SELECT 1 FROM {self.bad} AS b WHERE b.rid = r.rid)" if any_bad else "true"
        return (
            f"INSERT INTO {self.new} ({date_col}, {', '.join(k.columns)}, source_file, source_line, load_id)"
            f" SELECT {checks.lit(d.isoformat())}::date, {casts}, {src}, {line}, {self.load_id}"
            f" FROM {self.raw} AS r{join} WHERE {where}"
        )

    def _insert_good(self) -> int:
        """Cast the good rows into the candidate; a big kind in rid slices on parallel connections.

        INSERT ... SELECT writes row by row on one core (~5 us a fee line, the costliest statement of
        a city day); the slices share nothing but the candidate table, so they run side by side.
        """
        insert = self._insert_sql()
        lo, hi = self.conn.execute(f"SELECT min(first_rid), max(first_rid + rows - 1) FROM {self.files_t}").fetchone()
        slices = max(1, min(settings().load_pool_slots, int(hi - lo + 1) // PARALLEL_INSERT_ROWS if lo else 1))
        if slices == 1:
            return self.conn.execute(insert).rowcount
        bounds = [lo + (hi - lo + 1) * i // slices for i in range(slices + 1)]

        def one(i: int) -> int:
            with psycopg.connect(self.conn_url, autocommit=True) as c:
                c.execute(f"SET work_mem = {checks.lit(WORK_MEM)}")
                return c.execute(f"{insert} AND r.rid >= {bounds[i]} AND r.rid < {bounds[i + 1]}").rowcount

        with ThreadPoolExecutor(max_workers=slices, thread_name_prefix=f"insert{self.load_id}") as pool:
            return sum(pool.map(one, range(slices)))

    # ------------------------------------------------------------- validate
    def _run_suite(self) -> None:
        from ingestion import gx_validation

        self.validation = gx_validation.validate_table(
            conn=self.conn, conn_url=self.conn_url, table=self.new, kind=self.kind,
            business_date=self.ref.business_date, load_id=self.load_id,
        )
        self.validated = True

    def validate(self) -> None:
        """The kind's expectation suite over the candidate; a typed copy's ran already in check(),
        beside its index build (its time is then part of the check phase)."""
        if not self.validated:
            self._run_suite()
        failed = [v for v in self.validation if not v.success and v.severity == "critical"]
        self.result.warnings = [v.message() for v in self.validation if not v.success and v.severity != "critical"]
        for w in self.result.warnings:
            log.warning("%s %s: %s", self.ref.business_date, self.kind.name, w)
        if failed:
            raise KindRejected("critical expectation failed: " + " | ".join(v.message() for v in failed))

    # -------------------------------------------------------------- publish
    def publish(self) -> None:
        k, d = self.kind, self.ref.business_date
        dlit = checks.lit(d.isoformat())
        with self.conn.transaction():
            if k.section == "daily":
                for (old,) in self.conn.execute(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                    " WHERE i.inhparent = %s::regclass AND pg_get_expr(c.relpartbound, c.oid) = %s",
                    (k.table, f"FOR VALUES IN ('{d.isoformat()}')"),
                ).fetchall():
                    self.conn.execute(f"ALTER TABLE {k.table} DETACH PARTITION staging.{old}")
                    self.conn.execute(f"DROP TABLE staging.{old}")
                part = partition_name(k, d)
                self.conn.execute(f"ALTER TABLE {self.new} SET SCHEMA staging")
                self.conn.execute(f"ALTER TABLE staging.new_{self.load_id} RENAME TO {part}")
                self.conn.execute(f"ALTER TABLE {k.table} ATTACH PARTITION staging.{part} FOR VALUES IN ({dlit})")
            else:
                self.conn.execute(f"DELETE FROM {k.table} WHERE snapshot_date = {dlit}::date")
                self.conn.execute(f"INSERT INTO {k.table} SELECT * FROM {self.new}")
            # quarantine mirrors the current delivery: the superseded delivery's bad rows go with its rows
            self.conn.execute("DELETE FROM meta.quarantine WHERE business_date = %s AND kind = %s", (d, k.name))
            self.conn.execute(
                "INSERT INTO meta.quarantine (load_id, business_date, kind, file_name, line_no, raw_row, reason)"
                f" SELECT load_id, business_date, kind, file_name, line_no, raw_row, reason FROM {self.q}"
            )
            self.result.status = "loaded"
            for fr in self.result.files:
                fr.status = "loaded"
            self._write_validation()
            self._write_ledger()
            _pause("before_commit")

    def _write_validation(self) -> None:
        for v in self.validation:
            self.conn.execute(
                "INSERT INTO meta.validation_results (load_id, business_date, kind, expectation, severity, success,"
                " unexpected_count, examples, details) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (self.load_id, self.ref.business_date, self.kind.name, v.name, v.severity, v.success,
                 v.unexpected_count, json.dumps(v.examples, default=str, ensure_ascii=False),
                 json.dumps(v.details, default=str, ensure_ascii=False)),
            )

    def _write_ledger(self) -> None:
        r = self.result
        for fr in r.files:
            self.conn.execute(
                "INSERT INTO meta.load_log (section, business_date, kind, file_name, sha256, rows_in_file,"
                " rows_loaded, rows_quarantined, status, error, encoding, kind_load_id, finished_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())",
                (r.section, r.business_date, r.kind, fr.name, fr.sha256, fr.rows_in_file, fr.rows_loaded,
                 fr.rows_quarantined, fr.status, fr.error, fr.encoding, self.load_id),
            )
        write_summary(self.conn, r, self.load_id)

    def cleanup(self) -> None:
        if self.typed is not None:
            self.typed.cancel()  # before the DROP, which would wait for its lock
        for t in (self.raw, self.bad, self.new, self.files_t, self.q, self.vals, self.badv):
            try:
                self.conn.execute(f"DROP TABLE IF EXISTS {t}")
            except psycopg.Error:  # best effort: the next load sweeps leftovers
                log.exception("could not drop %s", t)


def write_summary(conn: psycopg.Connection, r: KindLoadResult, load_id: int) -> None:
    total_ms = int(sum(r.timings.values()) * 1000)
    conn.execute(
        "INSERT INTO meta.load_log (load_id, section, business_date, kind, file_name, sha256, rows_in_file,"
        " rows_loaded, rows_quarantined, status, error, kind_load_id, timings, started_at, finished_at,"
        " duration_ms) VALUES (%s, %s, %s, %s, NULL, NULL, %s, %s, %s, %s, %s, %s, %s,"
        " now() - make_interval(secs => %s), now(), %s)",
        (load_id, r.section, r.business_date, r.kind, r.rows_in_file, r.rows_loaded, r.rows_quarantined,
         r.status, r.error, load_id, json.dumps({k: round(v, 3) for k, v in r.timings.items()}),
         total_ms / 1000, total_ms),
    )


def _record_refusal(conn: psycopg.Connection, job: _KindLoad, status: str, error: str,
                    rejected_file: str | None) -> None:
    r = job.result
    r.status, r.error = status, error
    r.rows_loaded = r.rows_quarantined = 0
    for fr in r.files:
        fr.rows_loaded = fr.rows_quarantined = 0
        if rejected_file is not None and fr.name == rejected_file:
            fr.status, fr.error = "rejected", error.split(": ", 1)[1] if ": " in error else error
        else:
            fr.status = status
            fr.error = (f"not loaded: {rejected_file} of the same kind was rejected" if rejected_file
                        else error)
    r.rows_in_file = sum(fr.rows_in_file or 0 for fr in r.files)
    with conn.transaction():
        if status == "rejected" and job.validation:
            job._write_validation()
        job._write_ledger()


def _resolve_ref(ref_or_landing, section, business_date, kind) -> DeliveryRef:
    if isinstance(ref_or_landing, DeliveryRef):
        return ref_or_landing
    if isinstance(business_date, str):
        business_date = date.fromisoformat(business_date)
    section = section or KINDS[kind].section
    for r in folder_refs(Path(ref_or_landing), section, business_date):
        if r.kind == kind:
            return r
    raise ValueError(f"{section}/{business_date}: manifest.json lists no {kind} file")


def load_kind(
    ref_or_landing: DeliveryRef | Path | str,
    section: str | None = None,
    business_date: date | str | None = None,
    kind: str | None = None,
    conn_url: str | None = None,
    *,
    force: bool = False,
    _released: set | None = None,
) -> KindLoadResult:
    """Load one kind of one folder atomically: load_kind(ref, conn_url=...) or
    load_kind(landing, section, date, kind, conn_url=...). force=True reloads an unchanged delivery.
    A successful fee-kind load then re-admits refunds that waited for their original (ingestion.refunds)."""
    ref = _resolve_ref(ref_or_landing, section, business_date, kind)
    if conn_url is None:
        from warehouse.embedded import resolve_warehouse_url

        conn_url = resolve_warehouse_url()
    with psycopg.connect(conn_url, autocommit=True) as conn:
        ensure_schema(conn)
        load_id = conn.execute("SELECT nextval(pg_get_serial_sequence('meta.load_log', 'load_id'))").fetchone()[0]
        conn.execute("SELECT pg_advisory_lock(%s)", (load_id,))  # "this load is alive" for the orphan sweep
        # one load at a time per (section, kind, date); other kinds and dates run in parallel
        conn.execute("SELECT pg_advisory_lock(hashtext(%s), %s)",
                     (f"{ref.section}:{ref.kind}", ref.business_date.toordinal()))
        drop_orphan_scratch(conn, load_id)
        job = _KindLoad(conn, ref, load_id, conn_url)
        r = job.result
        try:
            if not force and last_loaded_fingerprints(conn).get(
                (ref.section, ref.business_date, ref.kind)
            ) == ref.fingerprint():
                r.status = "unchanged"
                for fr in r.files:
                    fr.status = "unchanged"
                with conn.transaction():
                    write_summary(conn, r, load_id)
                log.info("%s", r.summary())
                return r
            for phase in ("stage", "check", "validate", "publish"):
                t = time.monotonic()
                getattr(job, phase)()
                r.timings[phase] = time.monotonic() - t
        except FileRejected as exc:
            _record_refusal(conn, job, "rejected", str(exc), exc.file_name)
        except KindRejected as exc:
            _record_refusal(conn, job, "rejected", str(exc), None)
        except Exception as exc:  # noqa: BLE001 - recorded in the ledger, then re-raised for the caller
            log.exception("%s/%s %s failed", ref.section, ref.business_date, ref.kind)
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.rollback()
            _record_refusal(conn, job, "failed", f"{type(exc).__name__}: {exc}", None)
        finally:
            job.cleanup()
            conn.execute("SELECT pg_advisory_unlock_all()")
        log.info("%s", r.summary())
    if r.status == "loaded":
        from ingestion.refunds import release_waiting_refunds

        release_waiting_refunds(ref, conn_url, _released)
    return r


def load_folder(landing: Path | str, section: str, business_date: date | str, conn_url: str | None = None,
                *, force: bool = False, parallel: int | None = None) -> list[KindLoadResult]:
    """Load every kind the folder's manifest lists (each kind atomically, independently), in contract order.

    The kinds of one folder share nothing (the refund look-up and the volume band read other dates
    only), so up to `parallel` (default LOAD_POOL_SLOTS, as many as the DAG's load pool) load at
    once, biggest first: a city day's fee lines are the critical path, the other kinds fit beside it.
    """
    if isinstance(business_date, str):
        business_date = date.fromisoformat(business_date)
    refs = folder_refs(Path(landing), section, business_date)
    workers = max(1, min(len(refs), parallel if parallel is not None else settings().load_pool_slots))
    if workers == 1:
        return [load_kind(ref, conn_url=conn_url, force=force) for ref in refs]
    if conn_url is None:
        from warehouse.embedded import resolve_warehouse_url

        conn_url = resolve_warehouse_url()
    size = {r.kind: sum(f.path.stat().st_size for f in r.files if f.path.is_file()) for r in refs}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="load") as pool:
        futures = {r.kind: pool.submit(load_kind, r, conn_url=conn_url, force=force)
                   for r in sorted(refs, key=lambda r: -size[r.kind])}
        return [futures[r.kind].result() for r in refs]


def load_pending(landing: Path | str, up_to: date | None = None, conn_url: str | None = None) -> list[KindLoadResult]:
    """Load every complete delivery kind never loaded or changed since its last successful load, in order."""
    if conn_url is None:
        from warehouse.embedded import resolve_warehouse_url

        conn_url = resolve_warehouse_url()
    refs = discover(Path(landing), up_to=up_to, pending_only=True, conn_url=conn_url)
    return [load_kind(ref, conn_url=conn_url) for ref in refs]
