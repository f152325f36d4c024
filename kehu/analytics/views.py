"""Analytics pages: customer value (segments, revenue, CLV; run on demand) and model diagnostics."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core.access import Access

from . import selectors
from .models import CustomerScore
from .tasks import score_customers


def _require_view(request) -> None:
    if not Access.of(request.user).can("view", "customers.customer"):
        raise PermissionDenied


def home(request):
    """Segment counts, revenue and CLV over the customers the user may see, each linked to the filtered list."""
    _require_view(request)
    segments = selectors.segment_summary(user=request.user)
    list_url = reverse("customers:list")
    for row in segments:
        row["url"] = f"{list_url}?rfm_segment={row['segment']}"
    run = selectors.latest_run()
    return render(
        request,
        "analytics/home.html",
        {
            "title": _("Customer value"),
            "segments": segments,
            "run": run,
            "last_attempt": selectors.latest_run(finished=False),
            "can_run": selectors.can_run_scoring(request.user),
            "hidden": Access.of(request.user).hidden_fields(CustomerScore),
            "totals": {
                "customers": sum(r["customers"] for r in segments),
                "revenue": sum(r["revenue"] for r in segments),
                "clv": sum(r["clv"] for r in segments),
            },
        },
    )


@require_POST
def run_now(request):
    """An administrator starts a scoring run (the task worker runs it)."""
    if not selectors.can_run_scoring(request.user):
        raise PermissionDenied
    user_id = request.user.pk
    transaction.on_commit(lambda: score_customers.enqueue(user_id))
    messages.success(request, _("Scoring started. The segments update when the run finishes."))
    return redirect("analytics:home")


def diagnostics(request):
    """Fitted parameters, convergence, expected vs actual repeat purchases by frequency, and the
    calibration/holdout check (the model fitted up to the churn cut against the purchases made after it)."""
    if not selectors.can_run_scoring(request.user):
        raise PermissionDenied
    run = selectors.latest_run(finished=False)
    table = list(run.frequency_table) if run else []
    chart = {
        "labels": [row["x"] for row in table],
        "actual": [row["actual"] for row in table],
        "expected": [round(row["expected"], 1) for row in table],
        "actualName": _("Actual"),
        "expectedName": _("Expected (BG/NBD)"),
    }
    return render(
        request,
        "analytics/diagnostics.html",
        {
            "title": _("Model diagnostics"),
            "run": run,
            "table": table,
            "chart": chart,
            "bgnbd": (run.bgnbd or {}).get("params") if run else None,
            "gg": (run.gamma_gamma or {}).get("params") if run else None,
            "holdout": (run.bgnbd or {}).get("holdout") if run else None,
        },
    )
