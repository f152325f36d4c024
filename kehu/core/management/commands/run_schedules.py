"""One process for every periodic job of the production profile (docs/deployment.md).

`make run` starts each periodic command with its own `--every`; in production one `manage.py run_schedules`
enqueues the same jobs on the same intervals for whichever task backend is configured (RQ workers on Redis, or
the database worker). Each command runs once per due interval (`call_command(name)`, i.e. enqueue only: the work
happens in the workers), so several copies of this process are safe as the jobs themselves are (each claims its
rows), only wasteful. A failing command is logged and retried at its next interval; the others go on.

    manage.py run_schedules            # loop forever
    manage.py run_schedules --once     # enqueue every job once and exit (cron, tests)
"""

from __future__ import annotations

import io
import logging
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand

log = logging.getLogger("kehu.schedules")

# (command, interval in seconds, options): the jobs `make run` starts, with the same intervals
SCHEDULES: list[tuple[str, int, dict]] = [
    ("send_reminders", 60, {}),
    ("sales_scheduler", 60, {}),
    ("service_scheduler", 60, {}),
    ("campaign_scheduler", 60, {}),
    ("automation_scheduler", 60, {}),
    ("approvals_scheduler", 300, {}),
    ("webhooks_scheduler", 30, {}),
    ("resume_imports", 300, {}),
    ("reports_scheduler", 3600, {}),
    ("analytics_score", 86400, {"enqueue": True}),
    ("analytics_nba", 86400, {"enqueue": True}),
    ("forecast_snapshot", 86400, {}),
    ("privacy_retention", 86400, {}),
]


class Command(BaseCommand):
    help = "Enqueue every periodic job on its interval (one scheduler process for the production profile)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="enqueue every job once, then exit")
        parser.add_argument("--tick", type=float, default=5.0, help="seconds between due-checks")

    def run_due(self, due: dict[str, float], now: float) -> int:
        failures = 0
        for name, every, options in SCHEDULES:
            if due.get(name, 0.0) > now:
                continue
            due[name] = now + every
            out = io.StringIO()
            try:
                call_command(name, stdout=out, **options)
            except Exception:  # noqa: BLE001 - one failing job must not stop the others
                failures += 1
                log.exception("scheduled job %s failed", name, extra={"job": name})
                continue
            log.info("scheduled job %s: %s", name, out.getvalue().strip(), extra={"job": name})
            self.stdout.write(f"{name}: {out.getvalue().strip()}")
        return failures

    def handle(self, *args, once: bool, tick: float, **options):
        due: dict[str, float] = {}
        while True:
            failures = self.run_due(due, time.monotonic())
            if once:
                if failures:
                    raise SystemExit(1)
                return
            time.sleep(tick)
