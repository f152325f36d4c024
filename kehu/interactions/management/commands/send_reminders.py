"""Send due task reminders.

`make run` starts `manage.py db_worker` (runs django-tasks jobs) and `manage.py send_reminders --every 60`,
which enqueues the `send_due_reminders` job once a minute; the worker runs it. In production run both the same
way (systemd units or containers): any number of workers is safe, each reminder is claimed once. `--now` runs
the job in this process without a worker (cron-friendly: `send_reminders --now` from a crontab).
"""

from kehu.core.periodic import PeriodicJobCommand
from kehu.interactions.tasks import send_due_reminders


class Command(PeriodicJobCommand):
    help = "Enqueue (or with --now, run) the job that sends due task reminders."
    task = send_due_reminders
    service_path = "kehu.interactions.services.reminders_send_due"
    label = "reminders sent"
