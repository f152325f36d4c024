"""Extension point of the 360° page: other apps contribute panels (installed base, timeline, tasks,
opportunities, tickets...) without the customers app importing them.

    from kehu.customers.panels import register_panel
    register_panel("installed_base", order=30, column="main", render=lambda request, customer: {...})

`render(request, customer)` returns a context dict for the panel's template, or None to hide the panel.
It must use scoped selectors and a constant number of queries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Panel:
    key: str
    template: str
    render: Callable
    order: int = 50
    column: str = "main"  # "main" | "side"


PANELS: dict[str, Panel] = {}


def register_panel(
    key: str, *, template: str, render: Callable, order: int = 50, column: str = "main"
) -> None:
    PANELS[key] = Panel(key=key, template=template, render=render, order=order, column=column)


def render_panels(request, customer) -> dict[str, list[dict]]:
    result: dict[str, list[dict]] = {"main": [], "side": []}
    for panel in sorted(PANELS.values(), key=lambda p: p.order):
        ctx = panel.render(request, customer)
        if ctx is None:
            continue
        result[panel.column].append({"key": panel.key, "template": panel.template, "ctx": ctx})
    return result


# Key figures on the 360° page (revenue, last purchase, value segment...): callable(request, customer)
# -> list of (label, value) pairs.
FIGURES: list[Callable] = []
