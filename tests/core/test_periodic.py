"""Every periodic-job command has the one shape of kehu.core.periodic: `--now` runs its service in-process."""

import io

import pytest
from django.core.management import call_command, load_command_class

COMMANDS = {
    "kehu.sales": ("sales_scheduler", "lead SLA: "),
    "kehu.service": ("service_scheduler", "service schedule: "),
    "kehu.interactions": ("send_reminders", "reminders sent: "),
    "kehu.analytics": ("reports_scheduler", "reports: "),
    "kehu.approvals": ("approvals_scheduler", "approval reminders and escalations: "),
}


@pytest.mark.django_db
@pytest.mark.parametrize(("app", "name", "prefix"), [(app, *spec) for app, spec in COMMANDS.items()])
def test_now_runs_the_service_in_process(app, name, prefix):
    command = load_command_class(app, name)
    assert command.task is not None and command.service_path.startswith(app + ".")
    out = io.StringIO()
    call_command(name, "--now", stdout=out)
    assert out.getvalue().startswith(prefix)
