"""pipeline/superset_refresh.py against a small local HTTP server that plays Superset's REST API.

The server records every call: the step must log in with the configured
account, list the datasets and warm each one's cache with the bearer token;
without SUPERSET_URL it must call nothing; a refused login must fail the step.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from pipeline import steps

DATASETS = [
    {"id": 1, "table_name": "mart_institution_monthly", "schema": "marts", "database": {"database_name": "warehouse"}},
    {"id": 2, "table_name": "fct_violations", "schema": "marts", "database": {"database_name": "warehouse"}},
]


class FakeSuperset(BaseHTTPRequestHandler):
    calls: list[dict[str, Any]]
    password = "s3cret"

    def _reply(self, status: int, body: Any) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        path, _, query = self.path.partition("?")
        self.calls.append({"method": self.command, "path": path, "query": urllib.parse.unquote(query),
                           "auth": self.headers.get("Authorization"), "body": body})
        if (self.command, path) == ("POST", "/api/v1/security/login"):
            if body and body.get("password") == self.password:
                self._reply(200, {"access_token": "tok-123"})
            else:
                self._reply(401, {"message": "Not authorized"})
        elif self.headers.get("Authorization") != "Bearer tok-123":
            self._reply(401, {"msg": "missing token"})
        elif (self.command, path) == ("GET", "/api/v1/dataset/"):
            self._reply(200, {"count": len(DATASETS), "result": DATASETS})
        elif (self.command, path) == ("PUT", "/api/v1/dataset/warm_up_cache"):
            self._reply(200, {"result": [{"chart_id": 1, "viz_error": None, "viz_status": "success"}]})
        else:
            self._reply(404, {"message": "no such endpoint"})

    do_GET = do_POST = do_PUT = _handle

    def log_message(self, *args: Any) -> None:  # keep pytest output clean
        pass


@pytest.fixture
def superset(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    calls: list[dict[str, Any]] = []
    handler = type("Handler", (FakeSuperset,), {"calls": calls})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("SUPERSET_URL", f"http://127.0.0.1:{server.server_address[1]}/")
    monkeypatch.setenv("SUPERSET_USERNAME", "monitor")
    monkeypatch.setenv("SUPERSET_PASSWORD", FakeSuperset.password)
    try:
        yield calls
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_refresh_logs_in_lists_datasets_and_warms_each(superset: list[dict[str, Any]]) -> None:
    assert steps.refresh_dashboards() == {"datasets": 2}
    assert [(c["method"], c["path"]) for c in superset] == [
        ("POST", "/api/v1/security/login"), ("GET", "/api/v1/dataset/"),
        ("PUT", "/api/v1/dataset/warm_up_cache"), ("PUT", "/api/v1/dataset/warm_up_cache")]
    login = superset[0]
    assert login["auth"] is None
    assert login["body"] == {"username": "monitor", "password": "s3cret", "provider": "db", "refresh": False}
    assert "database.database_name" in superset[1]["query"] and "table_name" in superset[1]["query"]
    assert all(c["auth"] == "Bearer tok-123" for c in superset[1:])
    assert [c["body"] for c in superset[2:]] == [
        {"db_name": "warehouse", "table_name": "mart_institution_monthly"},
        {"db_name": "warehouse", "table_name": "fct_violations"}]


def test_refused_login_fails_the_step(superset: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPERSET_PASSWORD", "wrong")
    with pytest.raises(urllib.error.HTTPError, match="401"):
        steps.refresh_dashboards()
    assert [c["path"] for c in superset] == ["/api/v1/security/login"]  # nothing warmed without a token


def test_without_superset_url_nothing_is_called(superset: list[dict[str, Any]],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUPERSET_URL")
    assert steps.refresh_dashboards() is None
    assert superset == []
