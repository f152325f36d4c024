from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SalesConfig(AppConfig):
    name = "kehu.sales"
    label = "sales"
    verbose_name = _("Sales")

    def ready(self) -> None:
        from kehu.core import registry
        from kehu.interactions.services import INTERACTION_LOGGED

        from . import models as m
        from .services.opportunities import on_interaction_logged

        INTERACTION_LOGGED.append(on_interaction_logged)
        from . import approvals

        approvals.register_all()

        url = lambda o: o.get_absolute_url()  # noqa: E731
        # owned records: the record scope follows the owner (the rep)
        registry.register(m.Lead, owner_field="owner", url=url)
        registry.register(m.Opportunity, owner_field="owner", url=url)
        registry.register(m.Quote, owner_field="owner", url=url)
        registry.register(m.Order, owner_field="owner", url=url)
        registry.register(m.Contract, owner_field="owner", url=url, assigned=("our_signatory",))
        # child rows: the parent's scope; own_actions where another role works on them (finance: payments)
        registry.register(m.LeadActivity, owner_field=None, via="lead", nav=False, attribution=("user",))
        registry.register(m.OpportunityLine, owner_field=None, via="opportunity", nav=False)
        registry.register(m.OpportunityCompetitor, owner_field=None, via="opportunity", nav=False)
        registry.register(m.QuoteLine, owner_field=None, via="quote", nav=False)
        registry.register(m.OrderLine, owner_field=None, via="order", nav=False)
        registry.register(
            m.ContractAttachment, owner_field=None, via="contract", nav=False, attribution=("uploaded_by",)
        )
        registry.register(m.Instalment, owner_field=None, via="contract", own_actions=True)
        registry.register(
            m.Payment, owner_field=None, via="contract", own_actions=True, attribution=("recorded_by",)
        )
        registry.register(
            m.InvoiceRequest,
            owner_field=None,
            via="contract",
            own_actions=True,
            attribution=("requested_by",),
        )
        # configuration (no owner: visible with the view right, changed with the change right)
        registry.register(m.Pipeline, owner_field=None)
        registry.register(m.Stage, owner_field=None, via="pipeline", nav=False)
        registry.register(m.CloseReason, owner_field=None)
        registry.register(m.Competitor, owner_field=None)
        registry.register(m.AssignmentRule, owner_field=None, url=url, assigned=("users",))
        registry.register(m.LeadWebForm, owner_field=None, url=url, assigned=("default_owner",))
        registry.register(m.DiscountLimit, owner_field=None)
        registry.register(m.CustomerPool, owner_field=None)
        registry.register(m.RecycleRule, owner_field=None)
        registry.register(m.ClaimLimit, owner_field=None)
        # pool customers are public by design: the claim right on the pool, not the customer's owner, decides
        # previous_owner is written by the pool services only
        registry.register(
            m.PoolEntry, owner_field=None, transfer=False, nav=False, system=("previous_owner",)
        )
