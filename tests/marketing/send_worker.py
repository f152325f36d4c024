"""A campaign send worker in its own process, for the kill -9 test (tests/marketing/test_send_concurrency.py).

Environment: DATABASE_URL (the test database), KEHU_WORKER_NOW (the frozen instant to start at, ISO),
KEHU_WORKER_SMTP_PORT, KEHU_WORKER_PAUSE (seconds to wait before building each message, so that a kill lands
between messages), KEHU_WORKER_LIMIT (batch size), KEHU_WORKER_LEASE (seconds)."""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings.test")

import django  # noqa: E402
import time_machine  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

from kehu.marketing import emails  # noqa: E402
from kehu.marketing.services import sending  # noqa: E402


def main() -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", int(os.environ["KEHU_WORKER_SMTP_PORT"])
    pause = float(os.environ.get("KEHU_WORKER_PAUSE", "0"))
    original = emails.build

    def build(**kwargs):
        time.sleep(pause)  # after the previous message was marked sent, before this one is sent
        return original(**kwargs)

    emails.build = build
    start = dt.datetime.fromisoformat(os.environ["KEHU_WORKER_NOW"])
    with time_machine.travel(start, tick=True):
        print("ready", flush=True)
        out = sending.dispatch(
            limit=int(os.environ.get("KEHU_WORKER_LIMIT", "10")),
            lease=int(os.environ.get("KEHU_WORKER_LEASE", "300")),
        )
    print(f"sent {out.sent}", flush=True)


if __name__ == "__main__":
    main()
