"""Field rights on analytics' derived figures, in one place (ADR 0009, ADR 0011 §anfix).

Per-segment summaries (the RFM segments, the value segments) add up score and value fields; a figure computed
from a field hidden from the reader is left out, and a summary grouped by a hidden field (its segment) is empty:
the segment names with their counts would give the field away. The API view sets and pages call
`visible_summary` instead of repeating the checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from kehu.core.access import Access

SCORE = "analytics.customerscore"
VALUE = "analytics.customervalue"

#: summary key -> (model, field) it is computed from
SUMMARY_SOURCES: dict[str, tuple[str, str]] = {
    "revenue": (SCORE, "monetary"),
    "revenue_share": (SCORE, "monetary"),
    "clv": (SCORE, "clv"),
    "clv_share": (SCORE, "clv"),
    "p_alive": (SCORE, "p_alive"),
    "expected_purchases": (SCORE, "expected_purchases"),
    "churn_risk": (VALUE, "churn_risk"),
}


def is_hidden(user, label: str, field: str) -> bool:
    return field in Access.of(user).hidden_fields(label)


def hidden_keys(user) -> set[str]:
    """The summary keys computed from a field hidden from `user`."""
    access = Access.of(user)
    return {key for key, (label, field) in SUMMARY_SOURCES.items() if field in access.hidden_fields(label)}


def visible_summary(
    rows: Callable[[], Iterable[dict]], *, user, grouped_by: tuple[str, str], drop: Iterable[str] = ()
) -> list[dict]:
    """The rows of a per-segment summary as `user` may see them: [] when the grouping field (label, field) is
    hidden (the summary is not even computed), keys computed from hidden fields (and `drop`) left out, lazy
    labels as text."""
    if is_hidden(user, *grouped_by):
        return []
    leave_out = hidden_keys(user) | set(drop)
    result = []
    for row in rows():
        row = {k: v for k, v in row.items() if k not in leave_out}
        if "label" in row:
            row["label"] = str(row["label"])
        result.append(row)
    return result
