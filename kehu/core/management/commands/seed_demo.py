"""Generate realistic bilingual demo data for every installed app, deterministically.

manage.py seed_demo --customers 100000 --seed 7
manage.py seed_demo --if-empty          # what `make run` does: only on an empty database
"""

from __future__ import annotations

import importlib
import random
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from kehu.core.demo import seed_org
from kehu.core.models import User

# Apps contribute `kehu.<app>.demo.seed(ctx)`; called in this order when the module exists.
APP_SEEDERS = [
    "kehu.products.demo",
    "kehu.approvals.demo",
    "kehu.interactions.demo",
    "kehu.sales.demo",
    "kehu.service.demo",
    "kehu.salesmgmt.demo",
    "kehu.salesmgmt.demo_forecast",
    "kehu.analytics.demo",
    "kehu.marketing.demo",
    "kehu.portal.demo",
    "kehu.approvals.demo_requests",
    "kehu.automation.demo",  # last: the demo rules fire on what users do, not on the seed
]


class Command(BaseCommand):
    help = "Load demo data (organisation, users of every role, customers and the other apps' records)."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=2000)
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--if-empty", action="store_true", help="do nothing when users already exist")

    def handle(self, *args, customers: int, seed: int, if_empty: bool, **options):
        if User.objects.exists():
            if if_empty:
                self.stdout.write("Demo data already loaded; skipping.")
                return
            raise CommandError("The database already has users; seed_demo runs on an empty database only.")
        if customers < 1:
            raise CommandError("--customers must be at least 1")
        from kehu.customers.demo import seed_customers

        rng = random.Random(seed)
        started = time.perf_counter()
        with transaction.atomic():
            org = seed_org()
        t_org = time.perf_counter()
        with transaction.atomic():
            ids = seed_customers(count=customers, owners=org.owners, rng=rng)
        t_customers = time.perf_counter()
        self.stdout.write(f"customers: {len(ids)} in {t_customers - t_org:.1f}s")
        ctx = {"rng": rng, "org": org, "customer_ids": ids, "stdout": self.stdout}
        for module_name in APP_SEEDERS:
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError:
                continue
            t0 = time.perf_counter()
            with transaction.atomic():
                summary = module.seed(ctx)
            self.stdout.write(f"{module_name}: {summary} in {time.perf_counter() - t0:.1f}s")
        self.stdout.write(self.style.SUCCESS(f"Demo data loaded in {time.perf_counter() - started:.1f}s"))
