"""Delivery folders: manifests, which kinds a folder carries, and what is pending.

A folder `<landing>/<section>/<YYYY-MM-DD>/` is complete when its manifest.json
exists (it is written last). The manifest, not a directory listing, decides
which files belong to the delivery: a CSV on disk that the manifest does not
list is ignored (it may be the first half of the next transfer).
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg

from ingestion.contract import KINDS, Kind

SECTIONS = ("reference", "daily")  # reference first: a day's catalogue precedes its events


@dataclass(frozen=True)
class ManifestFile:
    name: str
    rows: int | None
    sha256: str | None
    encoding: str | None
    path: Path


@dataclass(frozen=True)
class DeliveryRef:
    """One kind of one delivery folder: the unit that loads atomically."""

    section: str  # 'daily' | 'reference'
    business_date: date  # the folder date (snapshot date for reference folders)
    kind: str
    files: tuple[ManifestFile, ...]
    folder: Path

    @property
    def kind_def(self) -> Kind:
        return KINDS[self.kind]

    def fingerprint(self) -> frozenset[tuple[str, str]]:
        """(file name, sha256) pairs as the manifest states them: equal fingerprints = same delivery."""
        return frozenset((f.name, (f.sha256 or "").lower()) for f in self.files)


class ManifestError(ValueError):
    pass


def folder_path(landing: Path, section: str, business_date: date) -> Path:
    return Path(landing) / section / business_date.isoformat()


def read_manifest(folder: Path) -> list[dict]:
    path = folder / "manifest.json"
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except FileNotFoundError:
        raise ManifestError(f"{path}: no manifest.json, the delivery is not complete") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path}: unreadable manifest: {exc}") from None
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, list):
        raise ManifestError(f"{path}: manifest has no 'files' list")
    return files


def kind_of_file(name: str, section: str) -> Kind | None:
    # exact names win over globs (ref_psn.csv vs ref_psn_special_dise.csv)
    candidates = [k for k in KINDS.values() if k.section == section]
    for k in candidates:
        if name == k.file_glob:
            return k
    for k in candidates:
        if fnmatch.fnmatchcase(name, k.file_glob):
            return k
    return None


def folder_refs(landing: Path, section: str, business_date: date) -> list[DeliveryRef]:
    """Every kind the folder's manifest lists, in contract order."""
    folder = folder_path(landing, section, business_date)
    entries = read_manifest(folder)
    by_kind: dict[str, list[ManifestFile]] = {}
    for e in entries:
        name = str(e.get("name", ""))
        kind = kind_of_file(name, section)
        if kind is None:
            continue  # not an extract of this contract: ignored like an extra column
        rows = e.get("rows")
        by_kind.setdefault(kind.name, []).append(
            ManifestFile(
                name=name,
                rows=int(rows) if rows is not None else None,
                sha256=(str(e["sha256"]).lower() if e.get("sha256") else None),
                encoding=e.get("encoding") or None,
                path=folder / name,
            )
        )
    return [
        DeliveryRef(section, business_date, k, tuple(sorted(by_kind[k], key=lambda f: f.name)), folder)
        for k in KINDS
        if k in by_kind
    ]


def _folder_dates(landing: Path, section: str, up_to: date | None) -> list[date]:
    out = []
    base = Path(landing) / section
    if not base.is_dir():
        return out
    for p in base.iterdir():
        try:
            d = date.fromisoformat(p.name)
        except ValueError:
            continue
        if (p / "manifest.json").is_file() and (up_to is None or d <= up_to):
            out.append(d)
    return out


def last_loaded_fingerprints(conn: psycopg.Connection) -> dict[tuple[str, date, str], frozenset]:
    """(section, date, kind) -> fingerprint of its last successful load, from meta.load_log."""
    exists = conn.execute("SELECT to_regclass('meta.load_log') IS NOT NULL").fetchone()[0]
    if not exists:
        return {}
    cols = conn.execute(
        "SELECT 1 FROM information_schema.columns WHERE table_schema='meta' AND table_name='load_log'"
        " AND column_name='kind_load_id'"
    ).fetchone()
    if not cols:
        return {}
    rows = conn.execute(
        """
        WITH last_ok AS (
          SELECT DISTINCT ON (section, business_date, kind) section, business_date, kind, load_id
          FROM meta.load_log
          WHERE file_name IS NULL AND status = 'loaded'
          ORDER BY section, business_date, kind, load_id DESC
        )
        SELECT l.section, l.business_date, l.kind, f.file_name, f.sha256
        FROM last_ok l JOIN meta.load_log f ON f.kind_load_id = l.load_id AND f.file_name IS NOT NULL
        """
    ).fetchall()
    out: dict[tuple[str, date, str], set] = {}
    for section, d, kind, name, sha in rows:
        out.setdefault((section, d, kind), set()).add((name, (sha or "").lower()))
    return {k: frozenset(v) for k, v in out.items()}


def discover(
    landing: Path,
    up_to: date | None = None,
    pending_only: bool = True,
    conn_url: str | None = None,
) -> list[DeliveryRef]:
    """Complete deliveries under landing, by date, reference before daily, kinds in contract order.

    pending_only: keep only kinds never loaded or whose manifest checksums differ
    from the last successful load of that (section, date, kind).
    """
    refs: list[DeliveryRef] = []
    for section in SECTIONS:
        for d in _folder_dates(Path(landing), section, up_to):
            try:
                refs.extend(folder_refs(Path(landing), section, d))
            except ManifestError:
                continue  # unreadable manifest: not complete yet; load_folder reports it when asked
    refs.sort(key=lambda r: (r.business_date, SECTIONS.index(r.section), list(KINDS).index(r.kind)))
    if not pending_only:
        return refs
    if conn_url is None:
        from warehouse.embedded import resolve_warehouse_url

        conn_url = resolve_warehouse_url()
    with psycopg.connect(conn_url, autocommit=True) as conn:
        done = last_loaded_fingerprints(conn)
    return [r for r in refs if done.get((r.section, r.business_date, r.kind)) != r.fingerprint()]
