"""The one shape of every periodic-job management command (`send_reminders`, `sales_scheduler`, …).

Such a command enqueues its django-tasks job for the database worker (`manage.py db_worker`), or with `--now`
runs the job's service in this process (cron-friendly); `--every N` repeats that every N seconds, which is how
`make run` starts them. Subclasses name the task, the service to run in-process, and a label for the output.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string


class PeriodicJobCommand(BaseCommand):
    #: the django-tasks task to enqueue
    task: Any = None
    #: dotted path of the service the job runs (imported lazily, as the job itself does)
    service_path: str = ""
    #: what the output calls the service's result
    label: str = ""

    def add_arguments(self, parser):
        parser.add_argument("--now", action="store_true", help="run in this process instead of enqueueing")
        parser.add_argument("--every", type=int, default=0, help="repeat every N seconds (0 = once)")

    def run_once(self, now: bool) -> None:
        if now:
            service: Callable[[], Any] = import_string(self.service_path)
            self.stdout.write(f"{self.label}: {service()}")
        else:
            result = self.task.enqueue()
            self.stdout.write(f"enqueued {result.id}")

    def handle(self, *args, now: bool, every: int, **options):
        while True:
            self.run_once(now)
            if not every:
                return
            time.sleep(every)
