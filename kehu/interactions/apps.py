from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InteractionsConfig(AppConfig):
    name = "kehu.interactions"
    label = "interactions"
    verbose_name = _("Interactions")

    def ready(self) -> None:
        from kehu.core import registry
        from kehu.core.services import TRANSFER_HOOKS
        from kehu.customers import panels
        from kehu.ui.views import HOME_WIDGETS

        from . import models, services, widgets

        registry.register(
            models.Interaction,
            owner_field=None,
            via="customer",
            own_actions=True,
            url=lambda o: o.get_absolute_url(),
            attribution=("user",),  # who logged it: the request's user, never input (issue 7)
        )
        registry.register(
            models.Task, owner_field="owner", transfer=False, url=lambda o: o.get_absolute_url()
        )
        TRANSFER_HOOKS.append(services.tasks_transfer)
        HOME_WIDGETS.append(widgets.home)
        panels.register_panel(
            "timeline",
            template="interactions/panel_timeline.html",
            render=widgets.timeline_panel,
            order=20,
            column="main",
        )
        panels.register_panel(
            "tasks",
            template="interactions/panel_tasks.html",
            render=widgets.tasks_panel,
            order=10,
            column="side",
        )
        panels.FIGURES.append(widgets.figures)
