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


# Added by the loader (issue 3): columns and indexes beyond the foundation DDL.
# Additive only, so databases created by the foundation DDL upgrade in place.
META_EXTRA_DDL = [
    # every ledger row of one kind-load points at that load's summary row
    # (file_name NULL); staging.load_id and meta.quarantine.load_id use it too
    "ALTER TABLE meta.load_log ADD COLUMN IF NOT EXISTS kind_load_id bigint",
    "ALTER TABLE meta.load_log ADD COLUMN IF NOT EXISTS encoding text",
    "ALTER TABLE meta.load_log ADD COLUMN IF NOT EXISTS timings jsonb",
    "CREATE INDEX IF NOT EXISTS load_log_delivery_idx ON meta.load_log (section, business_date, kind)",
    "CREATE INDEX IF NOT EXISTS quarantine_delivery_idx ON meta.quarantine (business_date, kind)",
    "CREATE INDEX IF NOT EXISTS validation_results_delivery_idx ON meta.validation_results (business_date, kind)",
]


def key_index_name(kind: Kind) -> str:
    return f"{kind.name}_delivery_key_uq"


def key_index_columns(kind: Kind) -> tuple[str, ...]:
    """Indexed columns of a staging table: the delivery key (refund look-ups, dbt joins)."""
    return kind.key


def ensure_schema(conn: psycopg.Connection) -> None:
    """Create schemas and tables if absent. Safe to run concurrently-ish and repeatedly."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('medwatch.ensure_schema'))")
        for stmt in META_DDL:
            conn.execute(stmt)
        for stmt in META_EXTRA_DDL:
            conn.execute(stmt)
        for kind in KINDS.values():
            conn.execute(staging_table_ddl(kind))
            if kind.section == "daily":
                # partitioned unique index on (business_date, delivery key): a key is unique within a
                # delivery; a new partition brings an equivalent index and ATTACH adopts it
                cols = ", ".join(key_index_columns(kind))
                conn.execute(f"DROP INDEX IF EXISTS staging.{kind.name}_key_idx")  # pre-release non-unique one
                conn.execute(
                    f"CREATE UNIQUE INDEX IF NOT EXISTS {key_index_name(kind)} ON {kind.table} (business_date, {cols})"
                )
            else:
                conn.execute(
                    f"CREATE INDEX IF NOT EXISTS {kind.name}_snapshot_idx ON {kind.table} (snapshot_date)"
                )
