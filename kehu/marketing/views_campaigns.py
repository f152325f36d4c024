"""Campaign pages: list, detail (journey, counts per status and per contact rule, the actions the user may
take), plan form (generic views), the journey step form, and the actions submit / approve / reject / launch /
pause / resume. Thin: reads through the scoped selectors, writes through services/campaigns.py."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kehu.core.access import Access
from kehu.core.models import Action
from kehu.core.selectors import get_visible, scoped
from kehu.ui.generic import Column, RecordDetailView, RecordFormView, RecordListView

from . import contact_rules as cr
from .models import Campaign, CampaignStatus, JourneyStep, MessageStatus, Promotion, RuleHold
from .selectors import promotions as promotion_selectors
from .services import campaigns as services


def campaign_list(*, user):
    return scoped(Campaign, user=user).select_related("owner")


def campaign_get(*, user, pk) -> Campaign:
    return get_visible(campaign_list(user=user), user=user, pk=pk)


def campaign_counts(campaign: Campaign) -> dict:
    """Messages per status, and per rule: held now, and every hold or drop ever recorded."""
    by_status = dict(campaign.messages.values_list("status").annotate(n=Count("id")))
    holds = RuleHold.objects.filter(campaign=campaign).values_list("rule", "dropped").annotate(n=Count("id"))
    rules = {r: {"label": cr.Rule(r).label, "held": 0, "dropped": 0} for r in cr.Rule.values}
    for rule, dropped, n in holds:
        rules[rule]["dropped" if dropped else "held"] += n
    opened = campaign.messages.filter(opened_at__isnull=False).count()
    clicked = campaign.messages.filter(clicked_at__isnull=False).count()
    return {
        "status": [(MessageStatus(s).label, by_status.get(s, 0)) for s in MessageStatus.values],
        "rules": [v for v in rules.values() if v["held"] or v["dropped"]],
        "opened": opened,
        "clicked": clicked,
        "enrolled": campaign.enrolments.count(),
    }


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = [
            "name",
            "objective",
            "start_date",
            "end_date",
            "budget",
            "currency",
            "expected_response_rate",
            "segments",
            "owner",
        ]
        widgets = {
            "start_date": forms.DateInput(attrs={"type": "date"}),
            "end_date": forms.DateInput(attrs={"type": "date"}),
        }


class CampaignList(RecordListView):
    model = Campaign
    title = gettext_lazy("Campaigns")
    columns = [
        Column("name", gettext_lazy("Name"), "name", link=True),
        Column("status", gettext_lazy("Status"), "status"),
        Column("start_date", gettext_lazy("Start date"), "start_date"),
        Column("owner", gettext_lazy("Owner"), "owner__username"),
    ]
    search_fields = ("name", "objective")
    default_sort = "-pk"
    select_related = ("owner",)
    create_url_name = "marketing:campaign_create"
    detail_url_name = "marketing:campaign"
    export_fields = ["name", "status", "start_date", "end_date", "budget", "owner"]

    def base_queryset(self):
        return campaign_list(user=self.request.user)


class CampaignFormView(RecordFormView):
    model = Campaign
    form_class = CampaignForm

    def base_queryset(self):
        return campaign_list(user=self.request.user)


class CampaignDetail(RecordDetailView):
    model = Campaign
    template_name = "marketing/campaign_detail.html"
    fields = [
        "status",
        "objective",
        "start_date",
        "end_date",
        "budget",
        "expected_response_rate",
        "owner",
        "approved_by",
    ]
    select_related = ("owner", "approved_by")
    edit_url_name = "marketing:campaign_edit"

    def get_object(self):
        return campaign_get(user=self.request.user, pk=self.kwargs["pk"])

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        campaign = ctx["object"]
        user = self.request.user
        can_write = self.access.can(Action.CHANGE, Campaign) and self.access.can_write_record(campaign)
        status = campaign.status
        ctx.update(
            counts=campaign_counts(campaign),
            promotions=promotion_selectors.campaign_promotions(campaign=campaign, user=user),
            can_add_promotion=self.access.can(Action.ADD, Promotion),
            steps=list(campaign.steps.all()),
            segments=list(campaign.segments.all()),
            actions=[
                (name, label)
                for name, label, ok in (
                    ("submit", _("Submit for approval"), can_write and status == CampaignStatus.DRAFT),
                    ("approve", _("Approve"), services.can_approve(user, campaign)),
                    ("reject", _("Send back"), services.can_approve(user, campaign)),
                    ("launch", _("Launch"), can_write and status == CampaignStatus.APPROVED),
                    ("pause", _("Pause"), can_write and status == CampaignStatus.RUNNING),
                    ("resume", _("Resume"), can_write and status == CampaignStatus.PAUSED),
                )
                if ok
            ],
            can_edit_steps=can_write and status not in (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED),
            step_form=StepForm(),
        )
        return ctx


ACTIONS = {
    "submit": services.campaign_submit,
    "approve": services.campaign_approve,
    "reject": services.campaign_reject,
    "launch": services.campaign_launch,
    "pause": services.campaign_pause,
    "resume": services.campaign_resume,
}


@require_POST
def campaign_action(request, pk, action):
    if action not in ACTIONS or not Access.of(request.user).can(Action.CHANGE, Campaign):
        raise PermissionDenied(_("You do not have access to this page."))
    campaign = campaign_get(user=request.user, pk=pk)
    extra = {}
    if action in ("approve", "reject"):
        extra["comment"] = request.POST.get("comment", "")
    try:
        ACTIONS[action](campaign=campaign, by=request.user, **extra)
        messages.success(request, _("Done."))
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
    return redirect(campaign.get_absolute_url())


class StepForm(forms.ModelForm):
    class Meta:
        model = JourneyStep
        fields = [
            "position",
            "kind",
            "message_kind",
            "subject",
            "body",
            "wait_hours",
            "condition",
            "condition_step",
            "yes_step",
            "no_step",
            "task_title",
            "task_due_days",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["position"].required = False


@require_POST
def step_add(request, pk):
    access = Access.of(request.user)
    campaign = campaign_get(user=request.user, pk=pk)
    if not (access.can(Action.CHANGE, Campaign) and access.can_write_record(campaign)):
        raise PermissionDenied(_("You may see this record but not change it."))
    step = None
    if request.POST.get("step"):
        step = get_object_or_404(JourneyStep, campaign=campaign, pk=request.POST["step"])
    form = StepForm(request.POST, instance=JourneyStep(campaign=campaign))
    form.is_valid()
    data = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
    try:
        services.step_save(campaign=campaign, data=data, by=request.user, step=step)
        messages.success(request, _("Step saved."))
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
    return redirect(campaign.get_absolute_url())
