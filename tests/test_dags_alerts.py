"""The failure callback every DAG task carries: a log line always, a mail when SMTP is configured."""

from __future__ import annotations

import asyncore
import logging
import smtpd
import threading
from types import SimpleNamespace

import pytest

from pipeline import alerts


class _Sink(smtpd.SMTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), None)
        self.messages: list[tuple[str, list[str], bytes]] = []

    def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
        self.messages.append((mailfrom, rcpttos, data))


def _context() -> dict:
    ti = SimpleNamespace(dag_id="daily_monitoring", task_id="load_daily", map_index=3, try_number=1)
    return {"ti": ti, "run_id": "scheduled__2024-02-29", "logical_date": "2024-02-29",
            "exception": RuntimeError("daily/2024-02-29/his_feedetail rejected: rows 10 != manifest 12")}


def test_failure_is_logged_without_smtp(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv("SMTP_HOST", raising=False)
    with caplog.at_level(logging.ERROR, logger="medwatch.alerts"):
        alerts.on_failure(_context())
    text = caplog.text
    assert "daily_monitoring.load_daily[3]" in text and "rows 10 != manifest 12" in text


def test_failure_is_mailed_when_smtp_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    sink = _Sink()
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            asyncore.loop(timeout=0.05, count=1)

    loop = threading.Thread(target=serve, daemon=True)
    loop.start()
    try:
        monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("SMTP_PORT", str(sink.socket.getsockname()[1]))
        monkeypatch.setenv("ALERT_EMAIL_TO", "auditor@bureau.example, ops@bureau.example")
        alerts.on_failure(_context())
    finally:
        stop.set()
        loop.join(timeout=15)
        sink.close()
    assert len(sink.messages) == 1
    mailfrom, rcpts, data = sink.messages[0]
    assert rcpts == ["auditor@bureau.example", "ops@bureau.example"]
    assert b"task failed: daily_monitoring.load_daily[3]" in data and b"manifest 12" in data


def test_unreachable_relay_does_not_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", "1")  # nothing listens there
    monkeypatch.setenv("ALERT_EMAIL_TO", "ops@bureau.example")
    alerts.on_failure(_context())
