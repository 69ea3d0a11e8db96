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
    # Written by dbt, not by the loader: the rows the incremental intermediate models deleted
    # and did not re-create are otherwise invisible to the incremental audit rules, which
    # refresh only what changed since their last build (docs/dbt.md, "Incremental rules").
    """CREATE TABLE IF NOT EXISTS meta.intermediate_deletions (
      model_name text NOT NULL,         -- int_fee_line_netting / int_visits
      deleted_by_load_id bigint NOT NULL,  -- the watermark of the build that deleted the row
      fixmedins_code text,
      mdtrt_id text,
      psn_no text,
      event_date date,                  -- fee_date of a line, visit_date of a visit
      med_type text,
      med_list_codg text,
      list_type text,
      rxno text
    )""",
    "CREATE INDEX IF NOT EXISTS intermediate_deletions_load_idx ON meta.intermediate_deletions (deleted_by_load_id)",
    # one row per audit-rule model: the watermark and parameters of its last build (dbt writes it)
    """CREATE TABLE IF NOT EXISTS meta.rule_build_state (
      model_name text PRIMARY KEY,
      through_load_id bigint NOT NULL,
      params_md5 text NOT NULL,
      refresh_mode text NOT NULL,       -- incremental / full
      built_at timestamptz NOT NULL
    )""",
]


def key_index_name(kind: Kind) -> str:
    return f"{kind.name}_delivery_key_uq"


# Index order of the delivery key: the most discriminating column first. Sorting a city day's
# 3M fee keys took twice as long with (business_date, fixmedins_code, ...): the sort's
# abbreviated keys only saw the constant date and a few hundred institutions.
_KEY_INDEX_ORDER = {
    "his_feedetail": ("feedetl_sn", "mdtrt_id", "fixmedins_code"),
    "pharmacy_sales": ("feedetl_sn", "mdtrt_id", "fixmedins_code"),
}


def key_index_columns(kind: Kind) -> tuple[str, ...]:
    """Columns of a daily table's unique delivery-key index, in index order (refund look-ups, dbt joins):
    the key, then business_date (a partitioned unique index must hold the partition key)."""
    return (*_KEY_INDEX_ORDER.get(kind.name, kind.key), "business_date")


def _index_columns(conn: psycopg.Connection, qualified: str) -> tuple[str, ...] | None:
    row = conn.execute(
        "SELECT array_agg(a.attname ORDER BY k.ord) FROM pg_index AS i"
        " CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)"
        " JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
        " WHERE i.indexrelid = to_regclass(%s)", (qualified,),
    ).fetchone()
    return tuple(row[0]) if row and row[0] else None


# Bump when the DDL above changes: a database marked with the current version skips the DDL.
SCHEMA_VERSION = "medwatch ingestion schema 3 (meta.intermediate_deletions, meta.rule_build_state)"


def _expected_relations() -> list[str]:
    return ["meta.load_log", "meta.quarantine", "meta.validation_results", "meta.intermediate_deletions", "meta.rule_build_state", *(k.table for k in KINDS.values())]


def schema_is_current(conn: psycopg.Connection) -> bool:
    """Catalog look-ups only, no table locks: marked with SCHEMA_VERSION and every table present."""
    return bool(conn.execute(
        "SELECT coalesce(obj_description(to_regnamespace('meta'), 'pg_namespace') = %s, false)"
        " AND NOT EXISTS (SELECT 1 FROM unnest(%s::text[]) AS t(name) WHERE to_regclass(t.name) IS NULL)",
        (SCHEMA_VERSION, _expected_relations()),
    ).fetchone()[0])


def ensure_schema(conn: psycopg.Connection) -> None:
    """Create schemas and tables if absent. Safe to run concurrently and repeatedly.

    Every load calls this. The DDL (ALTER TABLE ... IF NOT EXISTS takes an ACCESS EXCLUSIVE lock even
    when there is nothing to do) only runs when the database is not marked current: run on each
    load it deadlocked with a concurrent load's publish (quarantine/ledger writes vs CREATE INDEX).
    """
    if schema_is_current(conn):
        return
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('medwatch.ensure_schema'))")
        if schema_is_current(conn):  # another load did it while we waited
            return
        for stmt in META_DDL:
            conn.execute(stmt)
        for stmt in META_EXTRA_DDL:
            conn.execute(stmt)
        for kind in KINDS.values():
            conn.execute(staging_table_ddl(kind))
            if kind.section == "daily":
                # partitioned unique index on (delivery key, business_date): a key is unique within a
                # delivery; a new partition brings an equivalent index and ATTACH adopts it
                want = key_index_columns(kind)
                conn.execute(f"DROP INDEX IF EXISTS staging.{kind.name}_key_idx")  # pre-release non-unique one
                have = _index_columns(conn, f"staging.{key_index_name(kind)}")
                if have is not None and have != want:  # pre-release (business_date, key) order: rebuild once
                    conn.execute(f"DROP INDEX staging.{key_index_name(kind)}")
                conn.execute(
                    f"CREATE UNIQUE INDEX IF NOT EXISTS {key_index_name(kind)} ON {kind.table} ({', '.join(want)})"
                )
            else:
                conn.execute(
                    f"CREATE INDEX IF NOT EXISTS {kind.name}_snapshot_idx ON {kind.table} (snapshot_date)"
                )
        conn.execute(f"COMMENT ON SCHEMA meta IS '{SCHEMA_VERSION}'")
