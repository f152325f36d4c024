"""Registers the salesmgmt models with the platform registry (scope, fields, timeline).

Sales plans are company configuration (no owner): visible with the view right, changed with the change right;
their targets inherit the plan's scope (`via="plan"`). Visits are owned by the rep; their notes inherit the
visit's scope; a customer's location inherits the customer's."""

from __future__ import annotations

from kehu.core import registry


def register_all() -> None:
    from . import models as m

    url = lambda o: o.get_absolute_url()  # noqa: E731
    registry.register(m.SalesPlan, owner_field=None, url=url)
    registry.register(m.PlanTarget, owner_field=None, via="plan", nav=False)
    # visits are the rep's (owner); notes inherit the visit's scope; locations the customer's
    registry.register(m.Visit, owner_field="owner", url=url)
    registry.register(m.VisitNote, owner_field=None, via="visit", nav=False, attribution=("author",))
    registry.register(m.CustomerLocation, owner_field=None, via="customer", nav=False)
    registry.register(m.VisitPhoto, owner_field=None, via="visit", nav=False, attribution=("uploaded_by",))
    # expenses (ADR 0016): the rep's (owner); receipts inherit the expense's scope; categories and closed
    # months are configuration (view right to read, change right to keep them)
    registry.register(m.Expense, owner_field="owner", url=url)
    registry.register(
        m.ExpenseReceipt, owner_field=None, via="expense", nav=False, attribution=("uploaded_by",)
    )
    registry.register(m.ExpenseCategory, owner_field=None)
    registry.register(m.ExpensePeriodClose, owner_field=None, nav=False, attribution=("closed_by",))
    _register_forecast(registry, m)


def _register_forecast(registry, m) -> None:
    """Forecast (ADR 0014): a deal's category follows the deal; adjustments and snapshots are the rep's.
    Their money figures come from opportunity amounts: hidden wherever the amount is."""
    amount = [("sales.opportunity", "amount")]
    registry.register(m.ForecastEntry, owner_field=None, via="opportunity", nav=False)
    registry.register(
        m.ForecastAdjustment, owner_field="rep", attribution=("adjusted_by",),
        extra={"derived": {"amount": amount}},
    )  # fmt: skip
    # a team's figure: no owner (configuration-like grant); the service narrows reads and writes to teams whose
    # members are all inside the reader's rep-level adjustment scope
    registry.register(
        m.TeamForecastAdjustment, owner_field=None, attribution=("adjusted_by",),
        extra={"derived": {"amount": amount}},
    )  # fmt: skip
    figures = ["pipeline", "weighted", "best_case", "commit", "won", "adjusted"]
    registry.register(
        m.ForecastSnapshot, owner_field="rep", extra={"derived": dict.fromkeys(figures, amount)}
    )
