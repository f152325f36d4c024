"""Contract pages: list, detail (approval, signing, receivable plan, payments, invoice requests), form, from an
accepted quote; the receivables page (outstanding and overdue per customer and rep)."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from kehu.core.access import Access
from kehu.core.selectors import get_visible, scoped
from kehu.customers.models import Customer
from kehu.ui.generic import Column, RecordDetailView, RecordFormView, RecordListView

from . import selectors_collections
from .forms_documents import ContractForm, InstalmentPlanForm, InvoiceRequestForm, PaymentForm
from .models import Contract, ContractStatus, Instalment, InvoiceRequest, Payment, Quote
from .services import contracts, receivables
from .services.contracts import CONTRACT_TRANSITIONS
from .views_quotes import FAILURES, error_text


class ContractList(RecordListView):
    model = Contract
    title = gettext_lazy("Contracts")
    columns = [
        Column("number", gettext_lazy("Number"), "number", link=True),
        Column("title", gettext_lazy("Title"), "title"),
        Column("customer", gettext_lazy("Customer")),
        Column("status", gettext_lazy("Status"), "status"),
        Column("amount", gettext_lazy("Amount"), "amount"),
        Column("paid_amount", gettext_lazy("Received"), "paid_amount"),
        Column("currency", gettext_lazy("Currency")),
        Column("start_date", gettext_lazy("Start"), "start_date"),
        Column("end_date", gettext_lazy("End"), "end_date"),
        Column("owner", gettext_lazy("Owner")),
    ]
    search_fields = ("number", "title", "customer__name")
    default_sort = "-start_date"
    select_related = ("customer", "owner")
    create_url_name = "sales:contract_create"
    detail_url_name = "sales:contract"
    export_fields = [
        "number",
        "title",
        "status",
        "amount",
        "paid_amount",
        "invoiced_amount",
        "currency",
        "start_date",
        "end_date",
        "signed_date",
    ]


class ContractDetail(RecordDetailView):
    model = Contract
    template_name = "sales/contract_detail.html"
    fields = [
        "number", "title", "customer", "customer_signatory", "our_signatory", "opportunity", "quote", "amount",
        "currency", "paid_amount", "invoiced_amount", "start_date", "end_date", "signed_date", "status", "terms",
        "renewal_notice_days", "approved_by", "approved_at", "owner",
    ]  # fmt: skip
    select_related = (
        "customer",
        "customer_signatory",
        "our_signatory",
        "opportunity",
        "quote",
        "owner",
        "approved_by",
    )
    edit_url_name = "sales:contract_edit"
    attachment_form = None  # a refused upload's bound form (views_attachments)

    def get_context_data(self, **kwargs):
        from .views_attachments import attachment_context

        ctx = super().get_context_data(**kwargs)
        contract = ctx["object"]
        ctx.update(attachment_context(self.request, contract, self.attachment_form))
        user = self.request.user
        access = Access.of(user)
        today = timezone.localdate()
        ctx["instalments"] = list(
            scoped(Instalment, user=user).filter(contract=contract).order_by("sequence")
        )
        for inst in ctx["instalments"]:
            inst.overdue = inst.status in ("open", "partly") and inst.due_date < today
        ctx["payments"] = list(
            scoped(Payment, user=user).filter(contract=contract).prefetch_related("allocations__instalment")
        )
        ctx["invoices"] = list(scoped(InvoiceRequest, user=user).filter(contract=contract))
        ctx["next_statuses"] = [
            (s, ContractStatus(s).label) for s in sorted(CONTRACT_TRANSITIONS.get(contract.status, set()))
        ]
        ctx["can_plan"] = access.can("add", Instalment)
        ctx["can_pay"] = access.can("add", Payment)
        ctx["can_invoice"] = access.can("add", InvoiceRequest)
        # what a role may not see of instalments, payments, invoice requests and the customer stays out
        ctx["instalment_hidden"] = hidden_instalment = access.hidden_fields(Instalment)
        ctx["payment_hidden"] = access.hidden_fields(Payment)
        ctx["invoice_hidden"] = access.hidden_fields(InvoiceRequest)
        ctx["plan_form"] = InstalmentPlanForm(
            initial={
                "plan": "\n".join(
                    f"{i.due_date.isoformat()} {i.amount} {'' if 'notes' in hidden_instalment else i.notes}".strip()
                    for i in ctx["instalments"]
                )
            }
        )
        ctx["payment_form"] = PaymentForm(initial={"received_on": today})
        ctx["invoice_form"] = InvoiceRequestForm(
            initial={
                "title": contract.customer.name,
                "tax_number": "" if "tax_id" in access.hidden_fields(Customer) else contract.customer.tax_id,
            }
        )
        ctx["outstanding"] = contract.amount - contract.paid_amount
        return ctx


class ContractEdit(RecordFormView):
    model = Contract
    form_class = ContractForm

    def get_form_kwargs(self):
        return {"user": self.request.user}

    def save(self, form, obj):
        data = self.form_data(form)
        if obj is None:
            return contracts.contract_create(data=data, by=self.request.user)
        return contracts.contract_update(
            contract=obj, data=data, by=self.request.user, expected_version=form.cleaned_data.get("version")
        )


def _contract(request, pk) -> Contract:
    return get_visible(selectors_collections.contract_list(user=request.user), user=request.user, pk=pk)


class ContractFromQuote(View):
    def post(self, request, pk):
        quote = get_visible(scoped(Quote, user=request.user), user=request.user, pk=pk)
        try:
            with transaction.atomic():
                contract = contracts.contract_create(data={}, quote=quote, by=request.user)
        except FAILURES as exc:
            messages.error(request, error_text(exc))
            return redirect(quote.get_absolute_url())
        messages.success(request, _("Contract %(c)s created.") % {"c": contract.number})
        return redirect(contract.get_absolute_url())


class ContractStatusView(View):
    def post(self, request, pk):
        contract = _contract(request, pk)
        import datetime as dt

        signed = request.POST.get("signed_date") or ""
        try:
            contracts.contract_set_status(
                contract=contract,
                status=request.POST.get("status", ""),
                comment=request.POST.get("comment", ""),
                signed_date=dt.date.fromisoformat(signed) if signed else None,
                by=request.user,
            )
            messages.success(request, _("Status changed."))
        except ValueError:
            messages.error(request, _("Enter the date as YYYY-MM-DD."))
        except FAILURES as exc:
            messages.error(request, error_text(exc))
        return redirect(contract.get_absolute_url())


class InstalmentPlan(View):
    def post(self, request, pk):
        contract = _contract(request, pk)
        form = InstalmentPlanForm(request.POST)
        try:
            if not form.is_valid():
                raise_form(form)
            receivables.instalment_plan_set(contract=contract, rows=form.rows(), by=request.user)
            messages.success(request, _("Receivable plan saved."))
        except FAILURES as exc:
            messages.error(request, error_text(exc))
        except FormError as exc:
            messages.error(request, str(exc))
        return redirect(contract.get_absolute_url())


class FormError(Exception):
    pass


def raise_form(form) -> None:
    raise FormError("; ".join(" ".join(v) for v in form.errors.values()))


class PaymentCreate(View):
    def post(self, request, pk):
        contract = _contract(request, pk)
        form = PaymentForm(request.POST)
        if not form.is_valid():
            messages.error(request, "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
            return redirect(contract.get_absolute_url())
        try:
            receivables.payment_record(contract=contract, data=form.cleaned_data, by=request.user)
            messages.success(request, _("Payment recorded."))
        except FAILURES as exc:
            messages.error(request, error_text(exc))
        return redirect(contract.get_absolute_url())


class InvoiceCreate(View):
    def post(self, request, pk):
        contract = _contract(request, pk)
        form = InvoiceRequestForm(request.POST)
        if not form.is_valid():
            messages.error(request, "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
            return redirect(contract.get_absolute_url())
        try:
            receivables.invoice_request_create(contract=contract, data=form.cleaned_data, by=request.user)
            messages.success(request, _("Invoice requested."))
        except FAILURES as exc:
            messages.error(request, error_text(exc))
        return redirect(contract.get_absolute_url())


class Receivables(View):
    def get(self, request):
        if not Access.of(request.user).can("view", Contract):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied(_("You do not have access to this page."))
        owner_ids = None
        team = request.GET.get("team", "")
        if team.isdigit():
            from kehu.core.models import Team

            # the members (none for an unknown team) in one statement: the team itself is not shown
            owner_ids = list(
                Team.members.through.objects.filter(team_id=int(team)).values_list("user_id", flat=True)
            )
        return render(
            request,
            "sales/contract_receivables.html",
            {
                "title": _("Receivables"),
                "by_customer": selectors_collections.receivables_by(
                    user=request.user, by="customer", owner_ids=owner_ids
                ),
                "by_owner": selectors_collections.receivables_by(
                    user=request.user, by="owner", owner_ids=owner_ids
                ),
                "overdue": selectors_collections.overdue_instalments(user=request.user, owner_ids=owner_ids),
            },
        )
