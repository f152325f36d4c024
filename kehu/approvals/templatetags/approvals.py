"""`{% approval_history record %}`: the engine's requests of a record on its page (the page has read it)."""

from django import template

from ..selectors import record_requests

register = template.Library()


@register.inclusion_tag("approvals/panel.html")
def approval_history(record):
    return {"requests": list(record_requests(record))}
