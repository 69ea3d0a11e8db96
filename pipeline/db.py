"""Warehouse connections for pipeline tasks (WAREHOUSE_URL, or the embedded server)."""

from __future__ import annotations

import psycopg

from warehouse.embedded import resolve_warehouse_url


def warehouse_url(url: str | None = None) -> str:
    return url or resolve_warehouse_url()


def connect(url: str | None = None, autocommit: bool = False) -> psycopg.Connection:
    return psycopg.connect(warehouse_url(url), autocommit=autocommit)


def relation_exists(conn: psycopg.Connection, qualified: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (qualified,)).fetchone()
    return bool(row and row[0])
