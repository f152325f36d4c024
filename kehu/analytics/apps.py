from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "kehu.analytics"
    label = "analytics"
    verbose_name = _("Analytics")

    def ready(self) -> None:
        from kehu.core import registry
        from kehu.customers import panels

        from . import models, widgets

        # a score is seen by whoever may see its customer (the customer's read scope); it is derived data,
        # written only by scoring runs, never through the record service
        registry.register(models.CustomerScore, owner_field=None, via="customer", transfer=False, nav=False)
        panels.register_panel(
            "customer_value",
            template="analytics/panel_score.html",
            render=widgets.score_panel,
            order=15,
            column="side",
        )
        panels.FIGURES.append(widgets.figures)

        # value segments, strategies and churn risk (issue #11 items 3 and 4)
        from kehu.service.services import sla as service_sla

        from . import selectors_value, widgets_value

        # the CLV rank and the margin are computed from the score's CLV and net revenue: hidden with them
        registry.register(
            models.CustomerValue,
            owner_field=None,
            via="customer",
            transfer=False,
            nav=False,
            extra={
                "derived": {
                    "clv_rank": (("analytics.customerscore", "clv"),),
                    "margin": (("analytics.customerscore", "monetary"),),
                }
            },
        )
        panels.register_panel(
            "customer_value_strategy",
            template="analytics/value/panel.html",
            render=widgets_value.value_panel,
            order=16,
            column="side",
        )
        panels.FIGURES.append(widgets_value.figures)
        # a ticket without a covering contract takes the SLA policy of its customer's value strategy
        service_sla.POLICY_SOURCES.append(selectors_value.sla_policy_for)

        # Next Best Activity (issue #11 item 5): its secured models, the 360° panel and navigation
        from .registration_nba import setup as setup_nba

        setup_nba()
