"""The engine's configuration in the platform registry: chains are company configuration (no owner: the view
right to read them, the change right to keep them; administrators), their steps inherit the chain's scope.
Requests, tasks and events are not registry records: who sees them is the engine's rule (selectors.py)."""

from __future__ import annotations

from kehu.core import registry


def register_all() -> None:
    from . import models as m

    registry.register(m.ApprovalChain, owner_field=None, url=lambda o: o.get_absolute_url())
    registry.register(m.ApprovalStep, owner_field=None, via="chain", nav=False, assigned=("user",))
