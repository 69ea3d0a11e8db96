"""Give dbt the warehouse connection from WAREHOUSE_URL (profiles.yml reads DBT_PG_*)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from warehouse.config import REPO_ROOT

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"


def dbt_env(warehouse_url: str) -> dict[str, str]:
    """DBT_PG_* variables for a postgresql:// URL (host may be a socket dir in ?host=)."""
    u = urlparse(warehouse_url)
    query = parse_qs(u.query)
    host = query.get("host", [u.hostname or "127.0.0.1"])[0]
    return {
        "DBT_PG_HOST": host,
        "DBT_PG_PORT": str(u.port or 5432),
        "DBT_PG_USER": unquote(u.username or os.environ.get("USER", "postgres")),
        "DBT_PG_PASSWORD": unquote(u.password or ""),
        "DBT_PG_DBNAME": (u.path or "/").lstrip("/") or "postgres",
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
    }


def apply_dbt_env(warehouse_url: str) -> None:
    os.environ.update(dbt_env(warehouse_url))


def project_dir() -> Path:
    return DBT_PROJECT_DIR
