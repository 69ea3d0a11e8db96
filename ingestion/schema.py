"""DDL of the staging and meta schemas, generated from the contract (idempotent)."""

from __future__ import annotations

import psycopg

from ingestion.contract import KINDS, Kind

LINEAGE_COLUMNS = {"source_file": "text NOT NULL", "source_line": "integer NOT NULL"}


def staging_table_ddl(kind: Kind) -> str:
    cols = [f"{name} {typ}" for name, typ in kind.columns.items()]
    if kind.section == "daily":
        cols.insert(0, "business_date date NOT NULL")
        tail = " PARTITION BY LIST (business_date)"
    else:
        cols.insert(0, "snapshot_date date NOT NULL")
        tail = ""
    cols += [f"{n} {t}" for n, t in LINEAGE_COLUMNS.items()]
    cols.append("load_id bigint NOT NULL")
    return f"CREATE TABLE IF NOT EXISTS {kind.table} (\n  " + ",\n  ".join(cols) + f"\n){tail}"


META_DDL = [
    "CREATE SCHEMA IF NOT EXISTS staging",
    "CREATE SCHEMA IF NOT EXISTS meta",
    "CREATE SCHEMA IF NOT EXISTS load",
    """CREATE TABLE IF NOT EXISTS meta.load_log (
      load_id bigserial PRIMARY KEY,
      section text NOT NULL,            -- daily / reference
      business_date date NOT NULL,      -- folder date
      kind text NOT NULL,
      file_name text,                   -- NULL on the kind-level summary row
      sha256 text,
      rows_in_file bigint,
      rows_loaded bigint,
      rows_quarantined bigint,
      status text NOT NULL,             -- loaded / rejected / failed / unchanged
      error text,
      started_at timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz,
      duration_ms bigint
    )""",
    """CREATE TABLE IF NOT EXISTS meta.quarantine (
      load_id bigint NOT NULL,
      business_date date NOT NULL,
      kind text NOT NULL,
      file_name text NOT NULL,
      line_no integer NOT NULL,
      raw_row jsonb NOT NULL,
      reason text NOT NULL,
      quarantined_at timestamptz NOT NULL DEFAULT now()
    )""",
    """CREATE TABLE IF NOT EXISTS meta.validation_results (
      load_id bigint,
      business_date date NOT NULL,
      kind text NOT NULL,
      expectation text NOT NULL,
      severity text NOT NULL,           -- critical / warning
      success boolean NOT NULL,
      unexpected_count bigint,
      examples jsonb,
      details jsonb,
      validated_at timestamptz NOT NULL DEFAULT now()
    )""",
]


def ensure_schema(conn: psycopg.Connection) -> None:
    """Create schemas and tables if absent. Safe to run concurrently-ish and repeatedly."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('medwatch.ensure_schema'))")
        for stmt in META_DDL:
            conn.execute(stmt)
        for kind in KINDS.values():
            conn.execute(staging_table_ddl(kind))
