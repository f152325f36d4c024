"""Take this week's forecast snapshots (every rep, current quarter and month) once per ISO week.

`manage.py forecast_snapshot --every 86400` (started by `make run`) enqueues the job daily for the task worker;
`--now` runs it in this process. A run in a week that already has its snapshots writes nothing."""

from kehu.core.periodic import PeriodicJobCommand
from kehu.salesmgmt.tasks_forecast import take_forecast_snapshots


class Command(PeriodicJobCommand):
    help = "Enqueue (or with --now, take) this week's forecast snapshots (idempotent per week)."
    task = take_forecast_snapshots
    service_path = "kehu.salesmgmt.services.forecast.snapshot_take"
    label = "forecast snapshots"
