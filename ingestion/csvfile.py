"""Reading a delivery CSV: encoding, header, and the byte stream handed to COPY.

The file is never parsed row by row in Python: the header line is decoded here,
everything after it goes to PostgreSQL's CSV COPY in chunks, and the sha256 of
the whole file (header and BOM included) is computed on the same pass.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

BOM = b"\xef\xbb\xbf"
PROBE_BYTES = 1 << 20

# manifest spelling -> PostgreSQL COPY ENCODING name
_ENCODINGS = {
    "utf8": "UTF8", "utf-8": "UTF8", "utf-8-sig": "UTF8", "utf8-bom": "UTF8", "utf-8-bom": "UTF8",
    "gb18030": "GB18030", "gbk": "GB18030", "gb2312": "GB18030", "cp936": "GB18030",
}


class FileRejected(Exception):
    """A whole file is refused (manifest mismatch, missing column, unreadable CSV)."""

    def __init__(self, file_name: str, message: str):
        super().__init__(f"{file_name}: {message}")
        self.file_name = file_name
        self.message = message


def pg_encoding(name: str | None) -> str | None:
    if not name:
        return None
    enc = _ENCODINGS.get(name.strip().lower())
    if enc is None:
        raise ValueError(f"unsupported encoding {name!r} (UTF-8 or GB18030 expected)")
    return enc


def detect_encoding(path: Path) -> str:
    """UTF8 when the file starts with a BOM or its first MiB decodes strictly as UTF-8, else GB18030.

    GB18030 decodes almost any byte string, UTF-8 almost none that is not UTF-8,
    so a strict UTF-8 probe is the reliable test. The loader retries a file in
    GB18030 when PostgreSQL later finds an invalid UTF-8 sequence past the probe.
    """
    with open(path, "rb") as fh:
        head = fh.read(PROBE_BYTES)
    if head.startswith(BOM):
        return "UTF8"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut by the probe window is not evidence against UTF-8
        if exc.start < len(head) - 3 or len(head) < PROBE_BYTES:
            return "GB18030"
    return "UTF8"


@dataclass
class CsvHeader:
    columns: list[str]  # normalised (trimmed, lower-cased) header names in file order
    data_offset: int  # byte offset of the first data record
    has_bom: bool


def read_header(path: Path, encoding: str) -> CsvHeader:
    with open(path, "rb") as fh:
        first = fh.readline()
    has_bom = first.startswith(BOM)
    raw = first[len(BOM):] if has_bom else first
    text = raw.decode("gb18030" if encoding == "GB18030" else "utf-8", errors="strict")
    row = next(csv.reader([text.rstrip("\r\n")]), [])
    return CsvHeader([c.strip().lower() for c in row], len(first), has_bom)


@dataclass
class StreamStats:
    sha256: str = ""
    bytes_read: int = 0
    _h: hashlib._Hash = field(default_factory=hashlib.sha256, repr=False)


def stream_data(path: Path, header: CsvHeader, chunk_bytes: int, stats: StreamStats | None) -> Iterator[bytes]:
    """Yield the bytes after the header in chunks; hash everything (header too) as it goes, unless
    stats is None (a second read of a file whose checksum the first read checks)."""
    with open(path, "rb") as fh:
        head = fh.read(header.data_offset)
        if stats is not None:
            stats._h.update(head)
            stats.bytes_read += len(head)
        while True:
            chunk = fh.read(chunk_bytes)
            if not chunk:
                break
            if stats is not None:
                stats._h.update(chunk)
                stats.bytes_read += len(chunk)
            yield chunk
    if stats is not None:
        stats.sha256 = stats._h.hexdigest()
