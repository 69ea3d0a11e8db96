"""Writing deliveries: RFC 4180 CSV in UTF-8 / UTF-8 with BOM / GB18030, one
file per institution or one merged file, and manifest.json written last."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import random
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

from ingestion.contract import KINDS

ENCODINGS = {"utf8": ("utf-8", "UTF-8"), "utf8-bom": ("utf-8-sig", "UTF-8"), "gb18030": ("gb18030", "GB18030")}
EXTRA_COLUMNS = {"memo": "", "vali_flag": "1", "crte_time": "2000-01-01 00:00:00"}


def fmt(v: object) -> str:
    t = type(v)
    if t is str:
        return v  # type: ignore[return-value]
    if v is None:
        return ""
    if t is Decimal:
        return format(v, "f")
    if t is dt.datetime:
        return v.isoformat(" ")  # type: ignore[attr-defined]  # whole seconds: YYYY-MM-DD HH:MM:SS
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, Decimal):
        return format(v, "f")
    return str(v)


class FileStyle:
    """How one file is written: encoding, whether the manifest states it, column order, extras, EOL."""

    def __init__(self, rng: random.Random, encoding: str, kind: str, vary: bool = True) -> None:
        self.encoding = rng.choice(list(ENCODINGS)) if encoding == "mix" else encoding
        self.state_encoding = rng.random() < 0.5
        cols = list(KINDS[kind].columns)
        if vary and rng.random() < 0.25:
            rng.shuffle(cols)
        self.extras = list(EXTRA_COLUMNS) if vary and rng.random() < 0.25 else []
        self.columns = cols + self.extras
        self.eol = "\r\n" if rng.random() < 0.5 else "\n"


class CsvSink:
    """Streams rows of one file: encodes chunks as it goes, hashing the bytes written."""

    def __init__(self, path: Path, style: FileStyle) -> None:
        self.path = path
        self.style = style
        self.codec = ENCODINGS[style.encoding][0]
        self.fh = open(path, "wb")  # noqa: SIM115 - closed in close()
        self.sha = hashlib.sha256()
        self.rows = 0
        self.buf = io.StringIO()
        self.writer = csv.writer(self.buf, lineterminator=style.eol)
        self.writer.writerow(style.columns)
        self._flush(first=True)

    def _flush(self, first: bool = False) -> None:
        text = self.buf.getvalue()
        self.buf.seek(0)
        self.buf.truncate()
        codec = self.codec if first else ("utf-8" if self.codec == "utf-8-sig" else self.codec)
        data = text.encode(codec)
        self.sha.update(data)
        self.fh.write(data)

    def write(self, row: dict[str, object]) -> None:
        self.writer.writerow([fmt(row[c]) if c in row else EXTRA_COLUMNS.get(c, "") for c in self.style.columns])
        self.rows += 1
        if self.rows % 5000 == 0:
            self._flush()

    def write_tuples(self, rows: Iterable[list[str]]) -> None:
        """Fast path (city scale): rows already formatted in self.style.columns order."""
        n = 0
        for r in rows:
            self.writer.writerow(r)
            n += 1
            if n % 20000 == 0:
                self._flush()
        self.rows += n

    def close(self) -> dict[str, object]:
        self._flush()
        self.fh.close()
        entry: dict[str, object] = {"name": self.path.name, "rows": self.rows, "sha256": self.sha.hexdigest()}
        if self.style.state_encoding:
            entry["encoding"] = ENCODINGS[self.style.encoding][1]
        return entry


def write_file(path: Path, style: FileStyle, rows: Iterable[dict[str, object]]) -> dict[str, object]:
    sink = CsvSink(path, style)
    for r in rows:
        sink.write(r)
    return sink.close()


def write_manifest(folder: Path, business_date: dt.date | str, entries: list[dict[str, object]]) -> None:
    """manifest.json last, atomically (a reader never sees a half-written manifest)."""
    body = {"business_date": str(business_date), "files": sorted(entries, key=lambda e: str(e["name"]))}
    tmp = folder / ".manifest.json.tmp"
    tmp.write_text(json.dumps(body, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, folder / "manifest.json")


def file_entry(path: Path, encoding_label: str | None, codec: str) -> dict[str, object]:
    """Manifest entry of an existing file (used by re-deliveries)."""
    data = path.read_bytes()
    text = data.decode("utf-8-sig" if codec.startswith("utf-8") else codec)
    rows = sum(1 for _ in csv.reader(io.StringIO(text, newline=""))) - 1
    entry: dict[str, object] = {"name": path.name, "rows": rows, "sha256": hashlib.sha256(data).hexdigest()}
    if encoding_label:
        entry["encoding"] = encoding_label
    return entry
