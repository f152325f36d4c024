"""Registers the marketing models with the platform registry (scope, fields, timeline)."""


def register_all() -> None:
    """Each area of the app adds its registrations here."""
    _register_segments()


def _register_segments() -> None:
    """Segments are owned by their author (record scope from the owner, like any business record); their
    snapshot rows inherit the segment's scope. The rule fields are registered once here (rules.FIELDS)."""
    from kehu.core import registry

    from . import rules
    from .models import Segment, SegmentMember

    registry.register(Segment, owner_field="owner", url=lambda o: o.get_absolute_url())
    registry.register(SegmentMember, owner_field=None, via="segment", nav=False, transfer=False)
    rules.register_builtin_fields()
