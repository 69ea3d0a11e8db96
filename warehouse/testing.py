"""Throw-away databases on the warehouse server, for tests and benchmarks."""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlparse, urlunparse

import psycopg


def with_database(url: str, database: str) -> str:
    u = urlparse(url)
    return urlunparse(u._replace(path="/" + database))


def create_database(base_url: str, prefix: str = "mfm_test") -> str:
    """Create a fresh, empty database on base_url's server and return its URL."""
    name = f"{re.sub(r'[^a-z0-9_]', '_', prefix.lower())}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return with_database(base_url, name)


def drop_database(base_url: str, url: str) -> None:
    name = urlparse(url).path.lstrip("/")
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
