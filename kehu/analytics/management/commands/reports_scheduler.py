"""Send the saved reports that are due by e-mail (daily; weekly on Mondays; monthly on the 1st).

`manage.py reports_scheduler --every 3600` enqueues the `deliver_reports` job every hour for the task worker
(`manage.py db_worker`); `--now` runs it in this process (cron-friendly). Each recipient receives the figures
of the records they may see, with the table attached as an Excel file."""

from kehu.analytics.tasks_reports import deliver_reports
from kehu.core.periodic import PeriodicJobCommand


class Command(PeriodicJobCommand):
    help = "Enqueue (or with --now, run) the scheduled e-mail delivery of saved reports."
    task = deliver_reports
    service_path = "kehu.analytics.services_reports.reports_deliver_due"
    label = "reports"
