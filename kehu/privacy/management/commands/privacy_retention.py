"""Run the retention rules (docs/privacy.md). `make run` starts `manage.py privacy_retention --every 86400`;
`--now` runs them in this process (cron-friendly); `manage.py privacy dry-run` reports without changing."""

from kehu.core.periodic import PeriodicJobCommand
from kehu.privacy.tasks import run_retention


class Command(PeriodicJobCommand):
    help = "Enqueue (or with --now, run) the retention rules."
    task = run_retention
    service_path = "kehu.privacy.retention.run_scheduled"
    label = "retention"
