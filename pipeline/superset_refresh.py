"""Refresh what the dashboards read: warm Superset's cache for every dataset after the marts change.

Only when SUPERSET_URL is set (the DAG logs a skip otherwise). Uses Superset's
REST API with SUPERSET_USERNAME / SUPERSET_PASSWORD from the environment.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
import urllib.request
from typing import Any

from warehouse.config import settings

log = logging.getLogger(__name__)


def _call(base: str, method: str, path: str, token: str | None = None, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base.rstrip("/") + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=120) as resp:  # noqa: S310 - URL comes from settings
        raw = resp.read()
    return json.loads(raw) if raw else None


def refresh() -> dict[str, Any] | None:
    """Warm every dataset's cache; None when Superset is not configured."""
    s = settings()
    if not s.superset_url:
        log.info("SUPERSET_URL not set: dashboard refresh skipped")
        return None
    login = _call(s.superset_url, "POST", "/api/v1/security/login", body={
        "username": s.superset_username, "password": s.superset_password or "", "provider": "db",
        "refresh": False})
    token = login["access_token"]
    q = urllib.parse.quote("(columns:!(id,table_name,schema,database.database_name),page_size:100)")
    datasets = _call(s.superset_url, "GET", f"/api/v1/dataset/?q={q}", token)["result"]
    warmed = 0
    for ds in datasets:
        _call(s.superset_url, "PUT", "/api/v1/dataset/warm_up_cache", token, body={
            "db_name": ds["database"]["database_name"], "table_name": ds["table_name"]})
        warmed += 1
    log.info("Superset: warmed the cache of %d datasets", warmed)
    return {"datasets": warmed}
