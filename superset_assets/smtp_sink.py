"""A local SMTP sink: every message received is written to var/mail/<timestamp>-<n>.eml
(and its attachments beside it), so a demo user can open the report snapshots.

    .venv-superset/bin/python -m superset_assets.smtp_sink --port 8025 --dir var/mail

Binds 127.0.0.1 only. Never relays anything.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import itertools
import signal
import time
from pathlib import Path

from aiosmtpd.controller import Controller

_counter = itertools.count(1)


class MailDirHandler:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's hook name)
        stem = f"{time.strftime('%Y%m%dT%H%M%S')}-{next(_counter):04d}"
        raw = envelope.original_content or envelope.content
        (self.directory / f"{stem}.eml").write_bytes(raw)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        for i, part in enumerate(msg.walk()):
            filename = part.get_filename()
            if filename and not part.is_multipart():
                safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in filename)
                ext = {"image/png": ".png", "application/pdf": ".pdf"}.get(part.get_content_type(), "")
                if ext and not safe.lower().endswith(ext):
                    safe += ext
                (self.directory / f"{stem}-{i}-{safe}").write_bytes(part.get_payload(decode=True) or b"")
        return "250 Message accepted for delivery"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--dir", type=Path, default=Path("var/mail"))
    args = parser.parse_args()
    controller = Controller(MailDirHandler(args.dir.resolve()), hostname=args.host, port=args.port)
    controller.start()
    print(f"SMTP sink on {args.host}:{args.port} writing to {args.dir.resolve()}", flush=True)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        loop.run_until_complete(stop.wait())
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
