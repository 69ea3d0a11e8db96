"""Failure callback of every DAG task: a log line always, an e-mail when SMTP is configured.

Mail goes straight through smtplib (SMTP_HOST/SMTP_PORT, ALERT_EMAIL_FROM,
ALERT_EMAIL_TO) so alerts need no Airflow connection or provider setup.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from typing import Any

from warehouse.config import settings

log = logging.getLogger("medwatch.alerts")


def describe_failure(context: dict[str, Any]) -> tuple[str, str]:
    """Subject and body of a failure alert from an Airflow task context."""
    ti = context.get("task_instance") or context.get("ti")
    dag_id = getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    map_index = getattr(ti, "map_index", -1)
    run_id = context.get("run_id") or getattr(context.get("dag_run"), "run_id", "?")
    exc = context.get("exception")
    where = f"{dag_id}.{task_id}" + (f"[{map_index}]" if map_index not in (None, -1) else "")
    subject = f"[medwatch] task failed: {where} ({run_id})"
    body = "\n".join([
        f"DAG:       {dag_id}",
        f"Task:      {task_id}" + (f" (map index {map_index})" if map_index not in (None, -1) else ""),
        f"Run:       {run_id}",
        f"Logical:   {context.get('logical_date')}",
        f"Try:       {getattr(ti, 'try_number', '?')}",
        f"Error:     {type(exc).__name__ + ': ' + str(exc) if exc else 'see the task log'}",
        "",
        "Rerun after fixing: airflow tasks clear <dag_id> -t <task_id> -s <date> -e <date> (docs/airflow.md).",
    ])
    return subject, body


def send_email(subject: str, body: str) -> bool:
    """Send to ALERT_EMAIL_TO through SMTP_HOST; False (and nothing sent) when not configured."""
    s = settings()
    if not s.smtp_host or not s.alert_email_to:
        return False
    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = subject, s.alert_email_from, ", ".join(s.alert_email_to)
    msg.set_content(body)
    with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=30) as smtp:
        smtp.send_message(msg)
    return True


def on_failure(context: dict[str, Any]) -> None:
    subject, body = describe_failure(context)
    log.error("%s\n%s", subject, body)
    try:
        if send_email(subject, body):
            log.info("failure alert mailed to %s", ", ".join(settings().alert_email_to))
    except OSError as exc:  # an unreachable relay must not mask the task's own error
        log.warning("could not mail the failure alert: %s", exc)
