"""Approve or reject right from the in-app notification (kehu.ui.views.NOTIFICATION_ACTIONS): an approval
notification whose request still waits for the reader's decision gets the buttons (one query for the page)."""

from __future__ import annotations

import re

from .selectors import pending_tasks

_URL = re.compile(r"^/approvals/(\d+)/$")


def approval_actions(request, notifications) -> dict[int, dict]:
    wanted = {}
    for n in notifications:
        match = _URL.match(n.url or "")
        if match:
            wanted[n.pk] = int(match.group(1))
    if not wanted:
        return {}
    open_ids = set(
        pending_tasks(user=request.user)
        .filter(request_id__in=set(wanted.values()))
        .values_list("request_id", flat=True)
    )
    return {
        pk: {"template": "approvals/_notification_decide.html", "request_id": rid}
        for pk, rid in wanted.items()
        if rid in open_ids
    }
