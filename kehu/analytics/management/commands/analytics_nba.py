"""Recompute Next Best Activities: close outcomes, recalibrate, rank every customer.

manage.py analytics_nba                        # run now, print the phase timings
manage.py analytics_nba --enqueue              # leave it to the task worker (cron: daily, after analytics_score)
manage.py analytics_nba --enqueue --every 86400
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Rank the next best activity of every customer (benefit index (E − C)/C) and close tracked outcomes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--enqueue", action="store_true", help="enqueue the task instead of running now")
        parser.add_argument("--every", type=int, default=0, help="with --enqueue: repeat every N seconds")

    def handle(self, *args, enqueue, every, **options):
        if enqueue:
            from kehu.analytics.tasks_nba import nba_recompute

            while True:
                result = nba_recompute.enqueue()
                self.stdout.write(f"enqueued {result.id}")
                if not every:
                    return
                time.sleep(every)
        from kehu.analytics.services_nba import nba_run

        run = nba_run()
        for message in run.messages:
            self.stdout.write(self.style.WARNING(message))
        split = ", ".join(f"{k} {v:.2f}s" for k, v in run.timings.items())
        self.stdout.write(
            self.style.SUCCESS(
                f"ranked {run.customers} customers, {run.recommendations} recommendations, "
                f"{run.outcomes_closed} outcomes closed: {split}"
            )
        )
