"""Approval pages: my approvals (inbox), one request (decide from a phone or from the notification), chains
(administrators), delegations. Thin: parse, call a selector or a service, render."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.forms import inlineformset_factory
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kehu.core import audit, records
from kehu.core.access import Access
from kehu.core.exceptions import BusinessRuleError
from kehu.core.models import AuditAction, User

from . import selectors as sel
from . import services
from .kinds import approval_types
from .models import ApprovalChain, ApprovalStep, Delegation


def inbox(request):
    user = request.user
    tasks = list(sel.pending_tasks(user=user))
    mine = list(sel.request_list(user=user).filter(requester=user)[:30])
    return render(
        request,
        "approvals/inbox.html",
        {"title": _("Approvals"), "tasks": tasks, "mine": mine, "can_configure": _can_configure(user)},
    )


def request_detail(request, pk):
    approval = sel.request_get(user=request.user, pk=pk)
    record, rows = sel.summary(user=request.user, request=approval)
    figures = services.visible_figures(approval, record, request.user)
    events = list(approval.events.select_related("actor", "on_behalf_of"))
    tasks = list(approval.tasks.select_related("approver", "on_behalf_of"))
    return render(
        request,
        "approvals/request.html",
        {
            "title": approval.title,
            "approval": approval,
            "rows": rows,
            "figures": figures,
            "events": events,
            "tasks": tasks,
            "record_url": approval.url
            if record is not None and sel.record_visible(request.user, approval)
            else "",
            "can_decide": services.can_decide(request.user, approval),
            "type_name": _type_name(approval.model),
        },
    )


def _type_name(label: str) -> str:
    kind = approval_types().get(label)
    return kind.verbose_name if kind else label


@require_POST
def request_decide(request, pk):
    approval = sel.request_get(user=request.user, pk=pk)
    decision = request.POST.get("decision")
    if decision not in ("approve", "reject"):
        messages.error(request, _("Choose approve or reject."))
        return redirect(approval.get_absolute_url())
    try:
        services.approval_decide(
            request=approval,
            approve=decision == "approve",
            comment=request.POST.get("comment", ""),
            by=request.user,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except BusinessRuleError as exc:
        messages.error(request, str(exc))
    except PermissionDenied as exc:
        messages.error(request, str(exc) or _("You are not an approver of this request."))
    else:
        messages.success(request, _("Approved.") if decision == "approve" else _("Rejected."))
        nxt = request.POST.get("next", "")
        if nxt == "notifications":
            return redirect("ui:notifications")
        return redirect("approvals:inbox")
    return redirect(approval.get_absolute_url())


# ------------------------------------------------------------------------------------------ chains
def _can_configure(user) -> bool:
    return user.is_superuser or Access.of(user).can("change", ApprovalChain)


class ChainForm(forms.ModelForm):
    class Meta:
        model = ApprovalChain
        fields = [
            "name", "code", "model", "active", "priority", "min_amount", "max_amount", "min_discount",
            "requester_roles", "requester_departments", "description",
        ]  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"] = forms.ChoiceField(
            label=gettext_lazy("record type"),
            choices=[(label, kind.verbose_name) for label, kind in sorted(approval_types().items())],
        )


class StepForm(forms.ModelForm):
    class Meta:
        model = ApprovalStep
        fields = [
            "position", "name", "approver_kind", "user", "role", "department", "mode", "remind_after_hours",
            "escalate_after_hours",
        ]  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = User.objects.filter(is_active=True).order_by("username")


StepFormSet = inlineformset_factory(ApprovalChain, ApprovalStep, form=StepForm, extra=2, can_delete=True)


def chains(request):
    if not _can_configure(request.user):
        raise PermissionDenied
    return render(
        request,
        "approvals/chains.html",
        {
            "title": _("Approval chains"),
            "chains": sel.chain_list(user=request.user),
            "types": approval_types(),
        },
    )


def chain_edit(request, pk=None):
    if not _can_configure(request.user):
        raise PermissionDenied
    chain = None
    if pk is not None:
        chain = sel.chain_list(user=request.user).filter(pk=pk).first()
        if chain is None:
            raise Http404
    form = ChainForm(request.POST or None, instance=chain)
    # field rights hold here as on the generic forms: hidden fields are left out, read-only ones disabled
    access = Access.of(request.user)
    if not request.user.is_superuser:
        for name in access.hidden_fields(ApprovalChain):
            form.fields.pop(name, None)
        for name in access.readonly_fields(ApprovalChain):
            if name in form.fields:
                form.fields[name].disabled = True
    steps = StepFormSet(request.POST or None, instance=chain or ApprovalChain())
    if request.method == "POST" and form.is_valid() and steps.is_valid():
        kept = [f for f in steps.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        if not kept:
            form.add_error(None, _("A chain needs at least one step."))
        else:
            with transaction.atomic():
                before = audit.snapshot(chain) if chain else {}
                saved = form.save(commit=False)
                if chain is not None:
                    saved.version += 1
                    saved.updated_at = timezone.now()
                saved.save()
                form.save_m2m()
                steps.instance = saved
                steps.save()
                audit.log(
                    actor=request.user,
                    action=AuditAction.UPDATE if chain else AuditAction.CREATE,
                    instance=saved,
                    changes={
                        **audit.diff(before, audit.snapshot(saved)),
                        "steps": [None, [str(s) for s in saved.steps.all()]],
                    },
                )
            messages.success(request, _("Saved."))
            return redirect("approvals:chains")
    status = 400 if request.method == "POST" else 200
    title = str(chain) if chain else _("New approval chain")
    return render(
        request,
        "approvals/chain_form.html",
        {"title": title, "form": form, "steps": steps, "chain": chain},
        status=status,
    )


@require_POST
def chain_delete(request, pk):
    if not _can_configure(request.user):
        raise PermissionDenied
    chain = sel.chain_list(user=request.user).filter(pk=pk).first()
    if chain is None:
        raise Http404
    records.record_delete(instance=chain, by=request.user)
    messages.success(request, _("Deleted."))
    return redirect("approvals:chains")


# ------------------------------------------------------------------------------------------ delegations
class DelegationForm(forms.Form):
    delegate = forms.ModelChoiceField(label=gettext_lazy("delegate"), queryset=User.objects.none())
    starts_on = forms.DateField(label=gettext_lazy("from"), widget=forms.DateInput(attrs={"type": "date"}))
    ends_on = forms.DateField(label=gettext_lazy("until"), widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label=gettext_lazy("note"), max_length=200, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["delegate"].queryset = (
            User.objects.filter(is_active=True).exclude(pk=user.pk).order_by("username")
        )


def delegations(request):
    form = DelegationForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            services.delegation_create(user=request.user, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("Saved."))
            return redirect("approvals:delegations")
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "approvals/delegations.html",
        {"title": _("Delegation while away"), "form": form, "rows": sel.delegations_of(user=request.user)},
        status=status,
    )


@require_POST
def delegation_delete(request, pk):
    row = Delegation.objects.filter(pk=pk).first()
    if row is None or (row.user_id != request.user.pk and not _can_configure(request.user)):
        raise Http404
    services.delegation_delete(delegation=row, by=request.user)
    messages.success(request, _("Deleted."))
    return redirect("approvals:delegations")
