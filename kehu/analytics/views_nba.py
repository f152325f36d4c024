"""Next Best Activity pages: the daily worklist, taken/ignored, the realised-vs-expected report, the action
catalogue (administrators, through the generic record pages) and the company's CRM initiatives ranked by
benefit index. Thin: parse, call a selector or service, render."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kehu.core.access import Access
from kehu.core.inputs import safe_next
from kehu.core.models import User
from kehu.customers.models import Channel, Stage
from kehu.interactions.models import InteractionChannel
from kehu.ui.generic import Column, RecordFormView, RecordListView

from . import rfm, selectors_nba
from .models_nba import NbaAction
from .models_scorecard import Initiative, PracticeStage
from .services_nba import config, decision_for
from .tasks_nba import nba_recompute


def _require_view(request) -> None:
    if not Access.of(request.user).can("view", "customers.customer"):
        raise PermissionDenied


def worklist(request):
    """The user's worklist (or, with ?rep=<id>, a rep's worklist within what the user may see)."""
    _require_view(request)
    rep = None
    rep_id = request.GET.get("rep", "")
    if rep_id.isdigit() and int(rep_id) != request.user.pk:
        rep = User.objects.filter(pk=int(rep_id), is_active=True).first()
    rows = selectors_nba.worklist_rows(user=request.user, rep=rep)
    cfg = config()
    return render(
        request,
        "analytics/nba/worklist.html",
        {
            "title": _("Next best activities"),
            "rows": rows,
            "effect_hidden": selectors_nba.effect_hidden(request.user),
            "rep": rep,
            "reps": User.objects.filter(is_active=True)
            .only("id", "username", "display_name")
            .order_by("username")
            if Access.of(request.user).grant("customers.customer").read_scope != "own"
            else [],
            "run": selectors_nba.latest_run(),
            "can_manage": selectors_nba.can_manage(request.user),
            "contact_max": cfg["CONTACT_MAX"],
            "contact_days": cfg["CONTACT_DAYS"],
            "next": request.get_full_path(),
        },
    )


@require_POST
def decide(request):
    """Taken / ignored on one customer's action (the worklist and the 360° panel post here)."""
    _require_view(request)
    target = safe_next(request, reverse("analytics:nba_worklist"))
    try:
        with transaction.atomic():
            made = decision_for(
                user=request.user,
                customer_id=request.POST.get("customer", ""),
                action_id=request.POST.get("action", ""),
                decision=request.POST.get("decision", ""),
                note=request.POST.get("note", ""),
            )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(target)
    if made.decision == "taken":
        messages.success(
            request,
            _("Marked as taken; orders and replies in the next %(days)s days count as its outcome.")
            % {"days": made.action.window_days},
        )
    else:
        messages.success(request, _("Marked as ignored."))
    return redirect(target)


@require_POST
def run_now(request):
    if not selectors_nba.can_manage(request.user):
        raise PermissionDenied
    user_id = request.user.pk
    transaction.on_commit(lambda: nba_recompute.enqueue(user_id))
    messages.success(request, _("Next best activities are being recomputed."))
    return redirect("analytics:nba_worklist")


def report(request):
    """Realised vs expected benefit per action (over the decisions the user may see) and the calibration."""
    _require_view(request)
    data = selectors_nba.benefit_report(user=request.user)
    return render(
        request,
        "analytics/nba/report.html",
        {"title": _("NBA: realised vs expected benefit"), **data, "run": selectors_nba.latest_run()},
    )


# ------------------------------------------------------------------------------------------ catalogue
class ActionForm(forms.ModelForm):
    channel = forms.ChoiceField(label=gettext_lazy("channel"), choices=InteractionChannel.choices)
    consent_channel = forms.ChoiceField(
        label=gettext_lazy("consent needed"),
        choices=[("", gettext_lazy("None needed")), *Channel.choices],
        required=False,
    )
    segments = forms.MultipleChoiceField(
        label=gettext_lazy("RFM segments"),
        choices=rfm.Segment.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("None ticked: any segment, and customers without a score."),
    )
    stages = forms.MultipleChoiceField(
        label=gettext_lazy("lifecycle stages"),
        choices=Stage.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("None ticked: any stage."),
    )

    class Meta:
        model = NbaAction
        fields = [
            "code", "name", "kind", "channel", "consent_channel", "channel_cost", "staff_cost", "incentive_cost",
            "value_basis", "value_share", "default_value", "prior_rate", "prior_strength", "segments", "stages",
            "max_p_alive", "window_days", "product", "active",
        ]  # fmt: skip


class ActionList(RecordListView):
    model = NbaAction
    title = gettext_lazy("NBA action catalogue")
    columns = [
        Column("name", gettext_lazy("Name"), sort="name", link=True),
        Column("kind", gettext_lazy("Kind"), sort="kind"),
        Column("channel_label", gettext_lazy("Channel"), sort="channel", field="channel"),
        Column("consent_channel", gettext_lazy("Consent needed")),
        Column("cost", gettext_lazy("Expected cost C"), field="channel_cost"),
        Column("value_basis", gettext_lazy("Value basis")),
        Column("prior_rate", gettext_lazy("Prior response rate"), sort="prior_rate"),
        Column("window_days", gettext_lazy("Outcome window (days)")),
        Column("active", gettext_lazy("Active"), sort="active"),
    ]
    search_fields = ("name", "code")
    default_sort = "kind"
    create_url_name = "analytics:nba_action_new"
    detail_url_name = "analytics:nba_action_edit"
    select_related = ("product",)


class ActionEdit(RecordFormView):
    model = NbaAction
    form_class = ActionForm

    def success_url(self, obj) -> str:
        return reverse("analytics:nba_actions")


# ------------------------------------------------------------------------------------------ initiatives
def initiatives(request):
    """The company's own CRM initiatives ranked like customer actions: benefit index (E − C) / C of the
    discounted benefits and costs of each initiative's cash flows (edited on the scorecard's initiative pages)."""
    access = Access.of(request.user)
    if not access.can("view", Initiative):
        raise PermissionDenied
    stage = request.GET.get("stage", "")
    stage = stage if stage in PracticeStage.values else ""
    return render(
        request,
        "analytics/nba/initiatives.html",
        {
            "title": _("CRM initiatives by benefit index"),
            "rows": selectors_nba.initiative_ranking(user=request.user, stage=stage or None),
            "stages": PracticeStage.choices,
            "stage": stage,
            "can_add": access.can("add", Initiative),
        },
    )
