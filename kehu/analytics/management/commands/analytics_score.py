"""Recompute RFM segments and CLV for every customer with purchases.

manage.py analytics_score                       # run now, print the phase timings
manage.py analytics_score --enqueue             # leave it to the task worker (for cron: nightly)
manage.py analytics_score --enqueue --every 86400   # what `make run` starts: enqueue now, then daily
manage.py analytics_score --bins 4 --horizon 24 --discount-rate 0.08 --as-of 2026-06-30
"""

from __future__ import annotations

import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Score every customer: RFM segment, P(alive), expected purchases and spend, discounted CLV."

    def add_arguments(self, parser):
        parser.add_argument("--enqueue", action="store_true", help="enqueue the task instead of running now")
        parser.add_argument("--every", type=int, default=0, help="with --enqueue: repeat every N seconds")
        parser.add_argument("--bins", type=int, default=None, help="RFM quantile bins (default 5)")
        parser.add_argument("--horizon", type=int, default=None, help="CLV horizon in months (default 12)")
        parser.add_argument("--discount-rate", type=float, default=None, help="annual rate (default 0.10)")
        parser.add_argument("--currency", default=None, help="orders of this currency (default CNY)")
        parser.add_argument("--as-of", default=None, help="score as of this date (YYYY-MM-DD; default today)")

    def handle(self, *args, enqueue, every, bins, horizon, discount_rate, currency, as_of, **options):
        if enqueue:
            from kehu.analytics.tasks import score_customers

            while True:
                result = score_customers.enqueue()
                self.stdout.write(f"enqueued {result.id}")
                if not every:
                    return
                time.sleep(every)
        from kehu.analytics.services import scoring_run

        try:
            day = dt.date.fromisoformat(as_of) if as_of else None
        except ValueError:
            raise CommandError("--as-of must be a date such as 2026-06-30") from None
        try:
            run = scoring_run(
                as_of=day, bins=bins, horizon_months=horizon, discount_rate=discount_rate, currency=currency
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        for message in run.messages:
            self.stdout.write(self.style.WARNING(message))
        split = ", ".join(f"{k} {v:.2f}s" for k, v in run.timings.items())
        self.stdout.write(
            self.style.SUCCESS(
                f"scored {run.customers} customers ({run.purchase_model}/{run.spend_model}): {split}"
            )
        )
