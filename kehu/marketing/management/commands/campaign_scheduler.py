"""Run the campaign tick (journeys, then sending) periodically.

`make run` starts `manage.py campaign_scheduler --every 60`, which enqueues `campaign_tick` once a minute for the
task worker (`manage.py db_worker`); launching or resuming a campaign enqueues one at once. Any number of workers
is safe (ADR 0015). `--now` runs the tick in this process."""

from kehu.core.periodic import PeriodicJobCommand
from kehu.marketing.tasks import campaign_tick


class Command(PeriodicJobCommand):
    help = "Enqueue (or with --now, run) the campaign tick: advance journeys and send due messages."
    task = campaign_tick
    service_path = "kehu.marketing.tasks.campaign_tick_run"
    label = "campaigns"
