"""Next Best Activity's registrations (called from AnalyticsConfig.ready): secured models and the 360° panel."""

from __future__ import annotations

#: what NBA's expected effect E is computed from (nba.py): the value basis (expected spend, CLV, or value at
#: risk = expected spend × purchases per year of tenure × (1 − P(alive))) times P(alive). The benefit index
#: (E − C) / C gives E back from the visible cost. Both are hidden wherever one of these is (ADR 0009, 0011).
EFFECT_SOURCES = tuple(
    ("analytics.customerscore", f)
    for f in ("clv", "expected_spend", "p_alive", "frequency", "first_purchase")
)
DERIVED = {"expected_effect": EFFECT_SOURCES, "benefit_index": EFFECT_SOURCES}


def setup() -> None:
    from kehu.core import registry
    from kehu.customers import panels

    from . import models_nba, widgets_nba

    # company configuration without owner: visible to roles with a view grant, edited by holders of change
    registry.register(models_nba.NbaAction, owner_field=None, transfer=False, nav=False)
    # derived rows written by NBA runs; seen by whoever may see the customer
    registry.register(
        models_nba.NbaRecommendation,
        owner_field=None,
        via="customer",
        transfer=False,
        nav=False,
        extra={"derived": DERIVED},
    )
    # a rep's decision: written through the record service into a customer the rep may write, attributed
    registry.register(
        models_nba.NbaDecision,
        owner_field=None,
        via="customer",
        transfer=False,
        nav=False,
        attribution=("decided_by",),
        # the decision also keeps the customer's RFM segment of the day
        extra={"derived": {**DERIVED, "segment": (("analytics.customerscore", "segment"),)}},
    )
    panels.register_panel(
        "next_best_activity",
        template="analytics/nba/panel.html",
        render=widgets_nba.nba_panel,
        order=12,
        column="main",
    )
    _navigation()


def _navigation() -> None:
    """The worklist and initiatives in the Analytics section (after Customer value), the catalogue under
    Administration. Appended to the shell's lists rather than edited into them (the lead may fold them in)."""
    from django.utils.translation import gettext_lazy as _

    from kehu.ui import navigation

    for _title, items in navigation.SECTIONS:
        keys = [item[0] for item in items]
        if "customer_value" in keys and "nba" not in keys:
            at = keys.index("customer_value") + 1
            items[at:at] = [
                (
                    "nba",
                    _("Next best activities"),
                    "analytics:nba_worklist",
                    "check",
                    ("view", "customers.customer"),
                ),
                (
                    "crm_initiatives",
                    _("CRM initiatives"),
                    "analytics:nba_initiatives",
                    "trend",
                    ("view", "analytics.initiative"),
                ),
            ]
    if not any(item[0] == "nba_actions" for item in navigation.ADMIN_ITEMS):
        navigation.ADMIN_ITEMS.append(
            ("nba_actions", _("NBA action catalogue"), "analytics:nba_actions", "sliders")
        )
