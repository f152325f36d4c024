"""Registers the salesmgmt models with the platform registry (scope, fields, timeline).

Sales plans are company configuration (no owner): visible with the view right, changed with the change right;
their targets inherit the plan's scope (`via="plan"`)."""

from __future__ import annotations

from kehu.core import registry


def register_all() -> None:
    from . import models as m

    url = lambda o: o.get_absolute_url()  # noqa: E731
    registry.register(m.SalesPlan, owner_field=None, url=url)
    registry.register(m.PlanTarget, owner_field=None, via="plan", nav=False)
