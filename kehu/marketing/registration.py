"""Registers the marketing models with the platform registry (scope, fields, timeline)."""


def register_all() -> None:
    """Each area of the app adds its registrations here."""
    _register_segments()
    _register_campaigns()
    _register_promotions()


def _register_segments() -> None:
    """Segments are owned by their author (record scope from the owner, like any business record); their
    snapshot rows inherit the segment's scope. The rule fields are registered once here (rules.FIELDS)."""
    from kehu.core import registry

    from . import rules
    from .models import Segment, SegmentMember

    registry.register(Segment, owner_field="owner", url=lambda o: o.get_absolute_url())
    registry.register(SegmentMember, owner_field=None, via="segment", nav=False, transfer=False)
    rules.register_builtin_fields()


def _register_campaigns() -> None:
    """Campaigns are owned by their marketer; steps, enrolments and messages inherit the campaign's scope.
    The do-not-contact list has no owner (all or nothing per the role's grant). The contact ledger and the
    per-customer profiles are written only by the send engine and are not records anyone edits."""
    from kehu.core import registry

    from .models import Campaign, DoNotContact, Enrolment, JourneyStep, Message, RuleHold

    registry.register(
        Campaign, owner_field="owner", url=lambda o: o.get_absolute_url(), system=("approved_by",)
    )
    for model in (JourneyStep, Enrolment, Message, RuleHold):
        registry.register(model, owner_field=None, via="campaign", nav=False, transfer=False)
    registry.register(DoNotContact, owner_field=None, attribution=("added_by",), nav=True, transfer=False)


def _register_promotions() -> None:
    """Promotions are owned by their marketer; their coupon codes inherit the promotion's scope (who may see
    a promotion sees its codes). Codes are written only by the promotion services (issue, redeem)."""
    from kehu.core import registry

    from .models import CouponCode, Promotion

    registry.register(Promotion, owner_field="owner", url=lambda o: o.get_absolute_url())
    registry.register(
        CouponCode,
        owner_field=None,
        via="promotion",
        nav=False,
        transfer=False,
    )
