"""Expense pages (ADR 0016): my expenses, file one with receipts (phone first), an expense with its receipts,
submit, approve/reject, the approver's queue and the closed months. Thin: selectors read, services write."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kehu.approvals.services import can_decide
from kehu.core.access import Access
from kehu.core.exceptions import FieldNotWritable, StaleRecordError
from kehu.core.history import present as present_history
from kehu.core.selectors import get_visible, record_history
from kehu.sales.services.attachments import download_name

from . import selectors_expenses as sel
from .models import Expense, ExpensePeriodClose, ExpenseStatus
from .services import expenses as svc


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class ExpenseForm(forms.ModelForm):
    receipts = forms.FileField(
        label=gettext_lazy("Receipts"),
        required=False,
        widget=MultipleFileInput(attrs={"multiple": True, "accept": "image/*,application/pdf"}),
        help_text=gettext_lazy("Photos or PDFs of the receipts"),
    )

    class Meta:
        model = Expense
        fields = ["category", "amount", "currency", "spent_on", "description", "opportunity", "visit"]
        widgets = {
            "spent_on": forms.DateInput(attrs={"type": "date"}),
            "amount": forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
        }

    def __init__(self, *args, user, owner, **kwargs):
        super().__init__(*args, **kwargs)
        since = timezone.now() - dt.timedelta(days=90)
        self.fields["category"].queryset = sel.categories_active()
        self.fields["opportunity"].queryset = sel.tie_opportunities(user=user, owner=owner).filter(
            closed_at__isnull=True
        ) | sel.tie_opportunities(user=user, owner=owner).filter(closed_at__gte=since)
        self.fields["visit"].queryset = sel.tie_visits(user=user, owner=owner).filter(
            planned_start__gte=since
        )
        self.fields["amount"].widget.attrs["min"] = "0.01"
        if not self.instance.pk:
            self.fields["spent_on"].initial = timezone.localdate()

    def clean_receipts(self):
        return None  # read from request.FILES (several files) by the view


def _uploads(request) -> list:
    return request.FILES.getlist("receipts")


def _read(uploads) -> list[tuple[str, bytes]]:
    """Checked (name and size, before reading a byte) then read."""
    svc.receipts_check([(u.name, u.size or 0) for u in uploads])
    return [(u.name, u.read()) for u in uploads]


def _apply(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _data(form) -> dict:
    return {name: form.cleaned_data[name] for name in ExpenseForm.Meta.fields if name in form.cleaned_data}


def _require(request, action: str) -> Access:
    access = Access.of(request.user)
    if not access.can(action, Expense):
        raise PermissionDenied(_("You do not have access to this page."))
    return access


def expense_list(request):
    access = _require(request, "view")
    status = request.GET.get("status", "")
    if status not in ExpenseStatus.values:
        status = ""
    mine = request.GET.get("who") != "all"
    rows = sel.expense_list(user=request.user, status=status, owner=request.user if mine else None)
    return render(
        request,
        "salesmgmt/expenses/list.html",
        {
            "title": _("My expenses") if mine else _("Expenses"),
            "expenses": rows[:200],
            "status": status,
            "statuses": ExpenseStatus.choices,
            "mine": mine,
            "can_add": access.can("add", Expense),
            "to_decide": len(sel.expenses_to_decide(user=request.user)),
            "amount_hidden": "amount" in access.hidden_fields(Expense),
        },
    )


def expense_new(request):
    _require(request, "add")
    form = ExpenseForm(request.POST or None, user=request.user, owner=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            files = _read(_uploads(request))
            expense = svc.expense_create(
                data=_data(form), receipts=files, submit="submit" in request.POST, by=request.user
            )
        except (ValidationError, FieldNotWritable) as exc:
            _apply(form, exc if isinstance(exc, ValidationError) else ValidationError(str(exc)))
        else:
            messages.success(
                request, _("Expense submitted for approval.") if "submit" in request.POST else _("Saved.")
            )
            return redirect(expense.get_absolute_url())
    status = 400 if request.method == "POST" else 200
    return render(
        request, "salesmgmt/expenses/form.html", {"title": _("New expense"), "form": form}, status=status
    )


def expense_edit(request, pk):
    expense = sel.expense_get(user=request.user, pk=pk)
    access = _require(request, "change")
    if not access.can_write_record(expense) or not expense.is_editable:
        raise PermissionDenied(_("This expense cannot be changed."))
    form = ExpenseForm(request.POST or None, instance=expense, user=request.user, owner=expense.owner)
    if request.method == "POST":
        version = request.POST.get("version")
        if form.is_valid():
            try:
                svc.expense_update(
                    expense=Expense.objects.get(pk=expense.pk),
                    data=_data(form),
                    by=request.user,
                    expected_version=int(version) if version and version.isdigit() else None,
                )
            except (ValidationError, StaleRecordError, FieldNotWritable) as exc:
                if isinstance(exc, ValidationError):
                    _apply(form, exc)
                else:
                    form.add_error(None, getattr(exc, "message", str(exc)))
            else:
                messages.success(request, _("Saved."))
                return redirect(expense.get_absolute_url())
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "salesmgmt/expenses/form.html",
        {"title": _("Edit expense"), "form": form, "expense": expense},
        status=status,
    )


def expense_detail(request, pk):
    expense = sel.expense_get(user=request.user, pk=pk)
    access = Access.of(request.user)
    can_write = access.can("change", Expense) and access.can_write_record(expense) and expense.is_editable
    entries = record_history(expense, user=request.user)[:50]
    return render(
        request,
        "salesmgmt/expenses/detail.html",
        {
            "title": str(expense),
            "expense": expense,
            "receipts": list(sel.expense_receipts(user=request.user, expense=expense)),
            "can_write": can_write,
            "can_decide": expense.status == ExpenseStatus.SUBMITTED and can_decide(request.user, expense),
            "history": present_history(entries, model=Expense, user=request.user),
            "hidden": access.hidden_fields(Expense),
        },
    )


def _fail(request, exc) -> None:
    if isinstance(exc, ValidationError):
        messages.error(request, "; ".join(exc.messages))
    else:
        messages.error(request, getattr(exc, "message", None) or str(exc) or _("Not allowed."))


@require_POST
def expense_submit(request, pk):
    expense = sel.expense_get(user=request.user, pk=pk)
    try:
        version = request.POST.get("version", "")
        svc.expense_submit(
            expense=expense, by=request.user, expected_version=int(version) if version.isdigit() else None
        )
        messages.success(request, _("Expense submitted for approval."))
    except (ValidationError, StaleRecordError, PermissionDenied) as exc:
        _fail(request, exc)
    return redirect(expense.get_absolute_url())


@require_POST
def expense_decide(request, pk):
    expense = sel.expense_get(user=request.user, pk=pk)
    approve = request.POST.get("decision") == "approve"
    try:
        svc.expense_decide(
            expense=expense, approve=approve, comment=request.POST.get("comment", ""), by=request.user
        )
        messages.success(request, _("Expense approved.") if approve else _("Expense rejected."))
    except (ValidationError, PermissionDenied) as exc:
        _fail(request, exc)
        return redirect(expense.get_absolute_url())
    return redirect("salesmgmt:expense_approvals")


@require_POST
def expense_delete(request, pk):
    expense = sel.expense_get(user=request.user, pk=pk)
    try:
        svc.expense_delete(expense=expense, by=request.user)
    except (ValidationError, PermissionDenied) as exc:
        _fail(request, exc)
        return redirect(expense.get_absolute_url())
    messages.success(request, _("Deleted."))
    return redirect("salesmgmt:expenses")


@require_POST
def receipt_add(request, pk):
    expense = sel.expense_get(user=request.user, pk=pk)
    try:
        uploads = _uploads(request)
        if not uploads:
            raise ValidationError({"receipts": [_("Choose a file.")]})
        for name, content in _read(uploads):
            svc.expense_receipt_add(expense=expense, name=name, content=content, by=request.user)
        messages.success(request, _("Saved."))
    except (ValidationError, PermissionDenied) as exc:
        _fail(request, exc)
    return redirect(expense.get_absolute_url())


def receipt_download(request, pk):
    receipt = sel.receipt_get(user=request.user, pk=pk)
    if not receipt.file:
        raise Http404
    name, content_type = download_name(receipt)  # type: ignore[arg-type]  # name and file: as an attachment
    response = FileResponse(
        receipt.file.open("rb"), as_attachment=True, filename=name, content_type=content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


def expense_approvals(request):
    _require(request, "view")
    return render(
        request,
        "salesmgmt/expenses/approvals.html",
        {
            "title": _("Expenses to approve"),
            "expenses": sel.expenses_to_decide(user=request.user),
            "amount_hidden": "amount" in Access.of(request.user).hidden_fields(Expense),
        },
    )


class MonthForm(forms.Form):
    month = forms.DateField(
        label=gettext_lazy("month"),
        widget=forms.DateInput(attrs={"type": "month"}),
        input_formats=["%Y-%m", "%Y-%m-%d"],
    )
    note = forms.CharField(label=gettext_lazy("note"), max_length=200, required=False)


def expense_months(request):
    access = Access.of(request.user)
    if not access.can("view", ExpensePeriodClose):
        raise PermissionDenied(_("You do not have access to this page."))
    form = MonthForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                svc.expense_month_close(
                    month=form.cleaned_data["month"], note=form.cleaned_data["note"], by=request.user
                )
                messages.success(request, _("Month closed."))
                return redirect("salesmgmt:expense_months")
            except (ValidationError, PermissionDenied) as exc:
                if isinstance(exc, ValidationError):
                    _apply(form, exc)
                else:
                    form.add_error(None, str(exc))
        status = 400
    return render(
        request,
        "salesmgmt/expenses/months.html",
        {
            "title": _("Closed expense months"),
            "months": sel.closed_months(),
            "form": form,
            "can_close": access.can("add", ExpensePeriodClose),
            "can_reopen": access.can("delete", ExpensePeriodClose),
        },
        status=status,
    )


@require_POST
def expense_month_reopen(request, pk):
    closing = get_visible(ExpensePeriodClose, user=request.user, pk=pk)
    try:
        svc.expense_month_reopen(closing=closing, by=request.user)
        messages.success(request, _("Month reopened."))
    except (ValidationError, PermissionDenied) as exc:
        _fail(request, exc)
    return redirect("salesmgmt:expense_months")
