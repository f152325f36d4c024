"""Reminders and escalations of waiting approval steps (ADR 0018).

`manage.py approvals_scheduler --every 300` (started by `make run`) enqueues the job for the task worker;
`--now` runs it in this process. Each task is reminded once and each step escalated once, so runs repeat
safely."""

from kehu.approvals.tasks import remind_and_escalate
from kehu.core.periodic import PeriodicJobCommand


class Command(PeriodicJobCommand):
    help = "Enqueue (or with --now, run) the approval reminders and escalations."
    task = remind_and_escalate
    service_path = "kehu.approvals.services.approvals_remind_escalate"
    label = "approval reminders and escalations"
