"""Privacy pages: requests (list with the overdue ones first, new from the customer page, verify, approve,
run, reject, download the export), retention rules with the dry-run report, sensitive fields on the 360° page."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core.access import Access
from kehu.core.selectors import get_visible
from kehu.customers.models import Customer

from . import retention, sensitive, services
from .forms import RejectForm, RequestForm, RetentionRuleForm, SensitiveForm
from .models import PrivacyRequest, RequestStatus, RetentionRule

app_name = "privacy"


def _require(request, action: str, label: str = "privacy.privacyrequest") -> Access:
    access = Access.of(request.user)
    if not access.can(action, label):
        raise PermissionDenied
    return access


def _errors(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return " ".join(m for msgs in exc.message_dict.values() for m in msgs)
    return " ".join(exc.messages)


def request_list(request):
    access = _require(request, "view")
    status = request.GET.get("status", "open")
    qs = PrivacyRequest.objects.select_related("recorded_by", "approved_by", "done_by")
    if status == "open":
        qs = qs.filter(status__in=[RequestStatus.RECEIVED, RequestStatus.APPROVED])
    elif status in RequestStatus.values:
        qs = qs.filter(status=status)
    return render(
        request,
        "privacy/requests.html",
        {
            "requests": qs.order_by("due_on", "id")[:500],
            "overdue": list(services.overdue()),
            "status": status,
            "statuses": RequestStatus.choices,
            "today": timezone.localdate(),
            "can_rules": access.can("view", "privacy.retentionrule"),
        },
    )


def request_new(request):
    _require(request, "add")
    customer_id = request.POST.get("customer_id") or request.GET.get("customer")
    customer = get_object_or_404(Customer, pk=customer_id, merged_into__isnull=True) if customer_id else None
    if customer is None:
        messages.error(request, _("Start a privacy request from the customer's page."))
        return redirect("privacy:requests")
    form = RequestForm(request.POST or None, initial={"customer_id": customer.pk, "requester": customer.name})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            req = services.request_create(
                customer_id=customer.pk,
                kind=data["kind"],
                requester=data["requester"],
                channel=data["channel"],
                by=request.user,
                details=data["details"],
                corrections=data["corrections"],
                received_on=data["received_on"],
                verified=data["verified"],
            )
        except ValidationError as exc:
            for name, errs in exc.message_dict.items():
                form.add_error(name if name in form.fields else None, errs)
        else:
            messages.success(request, _("Privacy request recorded; due on %(d)s.") % {"d": req.due_on})
            return redirect("privacy:request", req.pk)
    return render(request, "privacy/request_form.html", {"form": form, "customer": customer})


def request_detail(request, pk):
    access = _require(request, "view")
    req = get_object_or_404(PrivacyRequest, pk=pk)
    return render(
        request,
        "privacy/request.html",
        {
            "req": req,
            "can_change": access.can("change", "privacy.privacyrequest"),
            "reject_form": RejectForm(),
        },
    )


@require_POST
def request_action(request, pk, action):
    _require(request, "change")
    req = get_object_or_404(PrivacyRequest, pk=pk)
    try:
        if action == "verify":
            services.request_verify(request=req, by=request.user)
        elif action == "approve":
            services.request_approve(request=req, by=request.user)
        elif action == "run":
            services.request_run(request=req, by=request.user)
        elif action == "reject":
            form = RejectForm(request.POST)
            services.request_reject(
                request=req, by=request.user, reason=form.data.get("reason", "") if form.is_bound else ""
            )
        else:
            raise PermissionDenied
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, _("Done."))
    return redirect("privacy:request", req.pk)


def request_download(request, pk):
    _require(request, "view")
    req = get_object_or_404(PrivacyRequest, pk=pk, kind="access", status=RequestStatus.DONE)
    if not req.export_file:
        raise PermissionDenied
    response = HttpResponse(bytes(req.export_file), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="personal-data-{req.customer_id}.zip"'
    return response


def retention_rules(request):
    access = _require(request, "view", "privacy.retentionrule")
    can_change = access.can("add", "privacy.retentionrule")
    form = RetentionRuleForm(request.POST or None)
    if request.method == "POST":
        if not can_change:
            raise PermissionDenied
        if form.is_valid():
            try:
                values = retention.clean_rule(
                    **{
                        k: form.cleaned_data[k]
                        for k in ("record_type", "condition", "date_field", "months", "action")
                    }
                )
            except ValidationError as exc:
                for name, errs in exc.message_dict.items():
                    form.add_error(name if name in form.fields else None, errs)
            else:
                rule = RetentionRule.objects.create(name=form.cleaned_data["name"], **values)
                from kehu.core import audit

                audit.log(
                    actor=request.user,
                    action="create",
                    instance=rule,
                    changes={"months": [None, rule.months]},
                )
                messages.success(request, _("Retention rule saved."))
                return redirect("privacy:retention")
    report = retention.run(dry_run=True)
    return render(
        request,
        "privacy/retention.html",
        {
            "rules": RetentionRule.objects.all(),
            "report": report,
            "form": form,
            "can_change": can_change,
            "conditions": {
                k: {c: str(v[0]) for c, v in conds.items()} for k, conds in retention.CONDITIONS.items()
            },
        },
    )


@require_POST
def sensitive_update(request, customer_pk):
    customer = get_visible(Customer, user=request.user, pk=customer_pk)
    form = SensitiveForm(request.POST)
    if form.is_valid():
        try:
            sensitive.sensitive_set(
                instance=customer,
                name=form.cleaned_data["field"],
                value=form.cleaned_data["value"],
                by=request.user,
            )
        except ValidationError as exc:
            messages.error(request, _errors(exc))
        else:
            messages.success(request, _("Saved (encrypted)."))
    return redirect("customers:detail", customer.pk)


urlpatterns = [
    path("requests/", request_list, name="requests"),
    path("requests/new/", request_new, name="request_new"),
    path("requests/<int:pk>/", request_detail, name="request"),
    path("requests/<int:pk>/export.zip", request_download, name="request_download"),
    path("requests/<int:pk>/<str:action>/", request_action, name="request_action"),
    path("retention/", retention_rules, name="retention"),
    path("sensitive/<int:customer_pk>/", sensitive_update, name="sensitive_update"),
]
