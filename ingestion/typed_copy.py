"""The typed COPY of a daily kind, side by side with the text copy the checks read (LOAD_TYPED_COPY).

Why: casting the good rows out of the all-text scratch table with INSERT ... SELECT costs about as
much again as the whole COPY (a row-by-row insert plus every cast). COPY straight into the future
partition parses, casts and batches rows itself, and with FREEZE (the table is created in the same
transaction) later readers need not set hint bits on every page. It runs on its own connection while
the loader's connection COPYs the text copy, so on a clean day the two share the cores.

The checks still read the text copy: PostgreSQL's input functions accept what the contract refuses
(' 7', '1e3', '2024-03-01T09:30', '1.234' silently rounded into numeric(16,2)), so the rows the checks
refuse are deleted from the typed copy afterwards (the loader does that). When the typed COPY cannot
read a value at all (an unparsable date, a number out of range, a bad byte) its transaction rolls back,
the table does not exist, and the loader casts the good rows from the text copy as before.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import psycopg

from ingestion.checks import lit
from ingestion.contract import Kind
from ingestion.csvfile import CsvHeader, StreamStats, detect_encoding, pg_encoding, read_header, stream_data

log = logging.getLogger("ingestion")


@dataclass(frozen=True)
class TypedFile:
    name: str
    path: Path
    encoding: str  # COPY ENCODING name
    header: CsvHeader


def plan(kind: Kind, files) -> list[TypedFile] | None:
    """The files of a kind when every one of them can be COPYed typed as it stands: present, an encoding
    that is declared or detected, a header naming exactly the contract's columns (any order). Anything
    else (extra or repeated columns, a missing column, an unreadable header) takes the text-only path,
    whose stage phase also produces the error message of a refused file."""
    out = []
    for mf in files:
        if not mf.path.is_file():
            return None
        try:
            enc = pg_encoding(mf.encoding) or detect_encoding(mf.path)
            header = read_header(mf.path, enc)
        except (ValueError, UnicodeDecodeError):
            return None
        if len(set(header.columns)) != len(header.columns) or set(header.columns) != set(kind.columns):
            return None
        out.append(TypedFile(mf.name, mf.path, enc, header))
    return out


class TypedCopy:
    """Creates `table` with `create_sql` and COPYs `files` into it, in one transaction on its own
    connection, in a background thread; then, in a second transaction, builds its key index
    (`index_sql`). `wait()` gives the rows per file once the COPY is committed, or None when it failed;
    `wait_index()` tells whether the index was built.

    Why the index here and after the commit: the loader's connection can then run the value checks,
    delete the refused rows and run the expectation suite while the index builds, off the load's
    critical path (CREATE INDEX takes a SHARE lock: reads go on beside it, a DELETE waits). A key
    repeated in the delivery fails the index and the loader's cast path, which quarantines the
    duplicates, takes over.

    Line numbers: a sequence owned by the table numbers the records of each file from 2 (line 1 is the
    header), the same record-order numbering as the text copy's rid; lineage columns are filled by
    column defaults that are dropped again before the commit."""

    def __init__(self, conn_url: str, table: str, create_sql: str, index_sql: str, date_col: str,
                 business_date: str, load_id: int, kind: Kind, files: list[TypedFile], chunk_bytes: int,
                 checksums: bool = False):
        self.checksums = checksums  # sha256 of every file on the way (when no text copy reads the files)
        self.conn_url, self.table, self.create_sql, self.index_sql = conn_url, table, create_sql, index_sql
        self.date_col, self.business_date, self.load_id = date_col, business_date, load_id
        self.kind, self.files, self.chunk_bytes = kind, files, chunk_bytes
        self.rows: list[int] | None = None
        self.stats: list[StreamStats] = []  # sha256 of each file, read on the same pass
        self.indexed = False
        self.error: str | None = None
        self._conn: psycopg.Connection | None = None
        self._copied = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"typed-copy-{load_id}", daemon=True)

    @property
    def encodings(self) -> list[str]:
        return [f.encoding for f in self.files]

    def start(self) -> TypedCopy:
        self._thread.start()
        return self

    def wait(self) -> list[int] | None:
        """Rows per file once the COPY is committed (the index may still be building); None = failed."""
        self._copied.wait()
        return self.rows

    def wait_index(self) -> bool:
        self._thread.join()
        return self.indexed

    def cancel(self) -> None:
        """Stop a running COPY or index build (the load was refused or failed): its transaction rolls back."""
        conn = self._conn
        if self._thread.is_alive() and conn is not None:
            try:
                conn.cancel_safe()
            except psycopg.Error:  # already finished or gone: joining is enough
                pass
        self._thread.join()

    def _run(self) -> None:
        try:
            with psycopg.connect(self.conn_url) as conn:
                self._conn = conn
                if self._copy(conn):
                    self._index(conn)
        except Exception as exc:  # noqa: BLE001 - the connection itself failed; the loader falls back
            self._failed("typed COPY not used", exc)
        finally:
            self._conn = None
            self._copied.set()

    def _failed(self, what: str, exc: Exception) -> None:
        text = str(exc).strip()
        self.error = f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"
        log.info("%s: %s (%s); good rows are cast from the text copy", self.kind.name, what, self.error)

    def _copy(self, conn: psycopg.Connection) -> bool:
        seq = f"{self.table}_line"
        try:
            # durable once the publish transaction commits (its commit flushes this WAL too)
            conn.execute("SET LOCAL synchronous_commit = off")
            conn.execute(self.create_sql)
            conn.execute(f"CREATE SEQUENCE {seq} AS integer START 2 CACHE 1000 OWNED BY {self.table}.source_line")
            conn.execute(
                f"ALTER TABLE {self.table} ALTER {self.date_col} SET DEFAULT {lit(self.business_date)}::date,"
                f" ALTER load_id SET DEFAULT {int(self.load_id)},"
                f" ALTER source_line SET DEFAULT nextval({lit(seq)})::integer"
            )
            rows, stats = [], []
            for i, f in enumerate(self.files):
                conn.execute(f"ALTER TABLE {self.table} ALTER source_file SET DEFAULT {lit(f.name)}")
                if i:
                    conn.execute("SELECT setval(%s, 2, false)", (seq,))
                cols = ", ".join(f.header.columns)
                with conn.cursor() as cur:
                    with cur.copy(
                        f"COPY {self.table} ({cols}) FROM STDIN WITH (FORMAT csv, HEADER false, FREEZE,"
                        f" ENCODING {lit(f.encoding)}, FORCE_NULL ({cols}))"
                    ) as cp:
                        stats.append(StreamStats())
                        for data in stream_data(f.path, f.header, self.chunk_bytes,
                                                stats[-1] if self.checksums else None):
                            cp.write(data)
                    rows.append(cur.rowcount)
            conn.execute(
                f"ALTER TABLE {self.table} ALTER {self.date_col} DROP DEFAULT, ALTER load_id DROP DEFAULT,"
                " ALTER source_line DROP DEFAULT, ALTER source_file DROP DEFAULT"
            )
            conn.execute(f"DROP SEQUENCE {seq}")
            conn.commit()
        except Exception as exc:  # noqa: BLE001 - an optimisation that did not apply; the loader falls back
            conn.rollback()
            self._failed("typed COPY not used", exc)
            return False
        self.rows, self.stats = rows, stats
        self._copied.set()
        return True

    def _index(self, conn: psycopg.Connection) -> None:
        try:
            # the key index of a city day (3M keys) sorts in memory, with parallel workers
            conn.execute("SET LOCAL maintenance_work_mem = '512MB'")
            conn.execute(self.index_sql)
            conn.commit()
            self.indexed = True
        except Exception as exc:  # noqa: BLE001 - duplicate keys, usually: the cast path quarantines them
            conn.rollback()
            self._failed("key index of the typed COPY not built", exc)
