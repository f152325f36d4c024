"""Quote pages: list, detail (lines, totals, approval, actions), form, PDF. Thin: selectors read (scoped),
kehu.sales.services.quotes writes."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from kehu.core.access import Access
from kehu.core.exceptions import BusinessRuleError, StaleRecordError
from kehu.core.selectors import get_visible, scoped
from kehu.ui.generic import Column, RecordDetailView, RecordFormView, RecordListView

from .forms_documents import DecisionForm, QuoteForm, QuoteLineEditForm, QuoteLineForm
from .models import ApprovalDecision, Contract, Opportunity, Quote, QuoteApproval, QuoteLine, QuoteStatus
from .services import contracts, orders, quotes


def error_text(exc) -> str:
    if isinstance(exc, StaleRecordError):
        return exc.message
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return "; ".join(" ".join(v) for v in exc.message_dict.values())
        return " ".join(exc.messages)
    return str(exc)


FAILURES = (ValidationError, BusinessRuleError, StaleRecordError, PermissionDenied)


def _version(request) -> int | None:
    raw = request.POST.get("version", "")
    return int(raw) if raw.isdigit() else None


class QuoteList(RecordListView):
    model = Quote
    title = gettext_lazy("Quotes")
    columns = [
        Column("number", gettext_lazy("Number"), "number", link=True),
        Column("revision", gettext_lazy("Revision"), "revision"),
        Column("customer", gettext_lazy("Customer")),
        Column("title", gettext_lazy("Title"), "title"),
        Column("status", gettext_lazy("Status"), "status"),
        Column("total", gettext_lazy("Total"), "total"),
        Column("currency", gettext_lazy("Currency")),
        Column("valid_until", gettext_lazy("Valid until"), "valid_until"),
        Column("owner", gettext_lazy("Owner")),
    ]
    search_fields = ("number", "title", "customer__name")
    default_sort = "-issue_date"
    select_related = ("customer", "owner")
    create_url_name = "sales:quote_create"
    detail_url_name = "sales:quote"
    export_fields = [
        "number",
        "revision",
        "title",
        "status",
        "issue_date",
        "valid_until",
        "currency",
        "net_amount",
        "tax_amount",
        "total",
    ]


class QuoteDetail(RecordDetailView):
    model = Quote
    template_name = "sales/quote_detail.html"
    fields = [
        "number", "revision", "previous", "title", "customer", "contact", "opportunity", "price_list", "currency",
        "status", "issue_date", "valid_until", "language", "terms", "gross_amount", "discount_amount", "net_amount",
        "tax_amount", "total", "approval_required", "approved_by", "approved_at", "sent_at", "accepted_at", "owner",
    ]  # fmt: skip
    select_related = ("customer", "contact", "opportunity", "price_list", "owner", "approved_by", "previous")
    edit_url_name = "sales:quote_edit"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        quote = ctx["object"]
        user = self.request.user
        hidden_lines = self.access.hidden_fields(QuoteLine)
        ctx["lines"] = list(
            QuoteLine.objects.filter(quote=quote).select_related("product").order_by("position", "id")
        )
        ctx["line_hidden"] = hidden_lines
        ctx["line_form"] = QuoteLineForm()
        ctx["approvals"] = list(quote.approvals.select_related("requested_by", "decided_by"))
        pending = next((a for a in ctx["approvals"] if a.decision == ApprovalDecision.PENDING), None)
        ctx["pending"] = pending
        ctx["can_decide"] = pending is not None and quotes.can_decide(user, quote)
        ctx["decision_form"] = DecisionForm()
        ctx["editable"] = ctx["can_write"] and quote.editable
        ctx["revisions"] = list(
            scoped(Quote, user=user).filter(number=quote.number).exclude(pk=quote.pk).order_by("-revision")
        )
        ctx["order"] = getattr(quote, "order", None) if hasattr(quote, "order") else None
        ctx["can_order"] = (
            quote.status == QuoteStatus.ACCEPTED
            and ctx["order"] is None
            and Access.of(user).can("add", "sales.order")
        )
        ctx["status"] = quote.status
        ctx["contracts"] = list(
            scoped(Contract, user=user).filter(quote=quote).only("pk", "number", "status").order_by("id")
        )
        ctx["can_contract"] = (
            quote.status == QuoteStatus.ACCEPTED
            and ctx["can_write"]
            and Access.of(user).can("add", Contract)
            and contracts.live_contract_of(quote) is None
        )
        return ctx


class QuoteEdit(RecordFormView):
    model = Quote
    form_class = QuoteForm

    def get_form_kwargs(self):
        return {"user": self.request.user}

    def save(self, form, obj):
        data = self.form_data(form)
        if obj is None:
            customer = data.pop("customer")
            opportunity = data.pop("opportunity", None)
            price_list = data.pop("price_list", None)
            if not data.get("valid_until"):
                data.pop("valid_until", None)
            if not data.get("currency"):
                data.pop("currency", None)
            return quotes.quote_create(
                customer=customer,
                opportunity=opportunity,
                price_list=price_list,
                data=data,
                by=self.request.user,
            )
        return quotes.quote_update(
            quote=obj, data=data, by=self.request.user, expected_version=form.cleaned_data.get("version")
        )


def _quote(request, pk) -> Quote:
    return get_visible(
        scoped(Quote, user=request.user).select_related("customer", "owner"), user=request.user, pk=pk
    )


class QuoteFromOpportunity(View):
    def post(self, request, pk):
        opportunity = get_visible(scoped(Opportunity, user=request.user), user=request.user, pk=pk)
        try:
            with transaction.atomic():
                quote = quotes.quote_create(
                    customer=opportunity.customer, opportunity=opportunity, by=request.user
                )
        except FAILURES as exc:
            messages.error(request, error_text(exc))
            return redirect(opportunity.get_absolute_url())
        messages.success(request, _("Quote %(q)s created from the opportunity.") % {"q": quote})
        return redirect(quote.get_absolute_url())


class QuoteLineAdd(View):
    def post(self, request, pk):
        quote = _quote(request, pk)
        form = QuoteLineForm(request.POST)
        if form.is_valid():
            data = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
            try:
                quotes.quote_line_add(quote=quote, data=data, by=request.user)
                messages.success(request, _("Line added."))
            except FAILURES as exc:
                messages.error(request, error_text(exc))
        else:
            messages.error(request, "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
        return redirect(quote.get_absolute_url())


class QuoteLineEdit(View):
    def post(self, request, pk):
        line = get_visible(
            scoped(QuoteLine, user=request.user).select_related("quote"), user=request.user, pk=pk
        )
        if request.POST.get("remove") == "1":
            try:
                quotes.quote_line_remove(line=line, by=request.user)
                messages.success(request, _("Line removed."))
            except FAILURES as exc:
                messages.error(request, error_text(exc))
            return redirect(line.quote.get_absolute_url())
        form = QuoteLineEditForm(request.POST)
        if form.is_valid():
            data = {name: form.cleaned_data[name] for name in form.fields if name in form.cleaned_data}
            if (
                str(data.get("unit_price")) == str(line.unit_price)
                and "quantity" in data
                and data["quantity"] != line.quantity
            ):
                data.pop("unit_price")  # re-price by tier unless the price itself was changed
            try:
                quotes.quote_line_update(line=line, data=data, by=request.user)
                messages.success(request, _("Saved."))
            except FAILURES as exc:
                messages.error(request, error_text(exc))
        else:
            messages.error(request, "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
        return redirect(line.quote.get_absolute_url())


class QuoteAction(View):
    """submit / send / accept / decline / revise / order (one POST button each)."""

    def post(self, request, pk, action):
        quote = _quote(request, pk)
        version = _version(request)
        target = quote
        try:
            with transaction.atomic():
                if action == "submit":
                    quotes.quote_submit(
                        quote=quote,
                        by=request.user,
                        reason=request.POST.get("reason", ""),
                        expected_version=version,
                    )
                    messages.success(request, _("Submitted for approval."))
                elif action == "send":
                    quotes.quote_send(
                        quote=quote,
                        by=request.user,
                        expected_version=version,
                        email_to=request.POST.get("email_to", ""),
                        message=request.POST.get("message", ""),
                    )
                    messages.success(request, _("Marked as sent."))
                elif action in ("accept", "decline"):
                    quotes.quote_respond(
                        quote=quote, accepted=action == "accept", by=request.user, expected_version=version
                    )
                    messages.success(request, _("Saved."))
                elif action == "revise":
                    target = quotes.quote_revise(quote=quote, by=request.user, expected_version=version)
                    messages.success(request, _("Revision %(n)s created.") % {"n": target.revision})
                elif action == "order":
                    target = orders.order_from_quote(quote=quote, by=request.user)
                    messages.success(request, _("Order %(o)s created.") % {"o": target})
                else:
                    raise Http404
        except FAILURES as exc:
            messages.error(request, error_text(exc))
        return redirect(target.get_absolute_url())


class QuoteDecide(View):
    def post(self, request, pk):
        approval = QuoteApproval.objects.filter(pk=pk).first()
        if approval is None:
            raise Http404
        quote = _quote(request, approval.quote_id)  # 404 unless the approver may see the quote
        form = DecisionForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Choose approve or reject."))
            return redirect(quote.get_absolute_url())
        try:
            quotes.quote_decide(
                approval=approval,
                approve=form.cleaned_data["decision"] == "approve",
                comment=form.cleaned_data["comment"],
                by=request.user,
            )
            messages.success(request, _("Decision recorded."))
        except FAILURES as exc:
            messages.error(request, error_text(exc))
        return redirect(quote.get_absolute_url())


class QuotePdf(View):
    def get(self, request, pk):
        from .pdf import quote_pdf

        quote = _quote(request, pk)
        language = request.GET.get("lang") or quote.language
        if language not in ("zh-hans", "en"):
            language = quote.language
        pdf = quote_pdf(quote=quote, user=request.user, language=language)
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = (
            f'inline; filename="{quote.number}-v{quote.revision}-{language}.pdf"'
        )
        return response
