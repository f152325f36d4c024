"""Order pages: list, detail (lines, status history, status change, return), direct entry, edit."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.forms import formset_factory
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core.access import Access
from kehu.core.selectors import get_visible, scoped
from kehu.ui.generic import Column, RecordDetailView, RecordFormView, RecordListView, _apply_errors

from .forms_documents import OrderForm, OrderLineForm, OrderStatusForm
from .models import ORDER_TRANSITIONS, Order, OrderLine, OrderStatus
from .services import orders
from .views_quotes import FAILURES, error_text

OrderLineFormSet = formset_factory(OrderLineForm, extra=3, min_num=1, validate_min=True)


class OrderList(RecordListView):
    model = Order
    title = gettext_lazy("Orders")
    columns = [
        Column("number", gettext_lazy("Number"), "number", link=True),
        Column("kind", gettext_lazy("Kind"), "kind"),
        Column("customer", gettext_lazy("Customer")),
        Column("order_date", gettext_lazy("Order date"), "order_date"),
        Column("status", gettext_lazy("Status"), "status"),
        Column("total", gettext_lazy("Total"), "total"),
        Column("currency", gettext_lazy("Currency")),
        Column("owner", gettext_lazy("Owner")),
    ]
    search_fields = ("number", "external_ref", "customer__name")
    default_sort = "-order_date"
    select_related = ("customer", "owner")
    create_url_name = "sales:order_create"
    detail_url_name = "sales:order"
    export_fields = [
        "number",
        "kind",
        "order_date",
        "status",
        "currency",
        "net_amount",
        "tax_amount",
        "total",
        "external_ref",
    ]


class OrderDetail(RecordDetailView):
    model = Order
    template_name = "sales/order_detail.html"
    fields = [
        "number", "kind", "original", "customer", "order_date", "status", "currency", "net_amount", "tax_amount",
        "total", "quote", "opportunity", "contract", "external_ref", "shipping_address", "notes", "owner",
    ]  # fmt: skip
    select_related = ("customer", "owner", "quote", "opportunity", "contract", "original")
    edit_url_name = "sales:order_edit"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        order = ctx["object"]
        ctx["lines"] = list(
            OrderLine.objects.filter(order=order).select_related("product").order_by("line_no")
        )
        ctx["history"] = ctx["history"]
        ctx["changes"] = list(order.status_changes.select_related("by").order_by("at", "id"))
        allowed = ORDER_TRANSITIONS.get(order.status, set())
        form = OrderStatusForm()
        form.fields["status"].choices = [c for c in OrderStatus.choices if c[0] in allowed]
        ctx["status_form"] = form if allowed else None
        # serial numbers are asked where the next step can be the delivery (they become installed-base units)
        ctx["serial_lines"] = (
            [line for line in ctx["lines"] if line.product_id and line.quantity > 0]
            if OrderStatus.DELIVERED in allowed
            else []
        )
        ctx["returns"] = list(scoped(Order, user=self.request.user).filter(original=order))
        ctx["can_return"] = (
            ctx["can_write"] and order.kind == "sale" and order.status in ("delivered", "invoiced", "paid")
        )
        return ctx


class OrderCreate(RecordFormView):
    """A direct order: the header and up to a few lines (more through the API)."""

    model = Order
    form_class = OrderForm
    template_name = "sales/order_form.html"

    def get_form_kwargs(self):
        return {"user": self.request.user}

    def context(self, form, obj):
        ctx = super().context(form, obj)
        ctx["lines"] = getattr(self, "_lines", None) or OrderLineFormSet(prefix="lines")
        return ctx

    def post(self, request, *args, **kwargs):
        form = self.build_form(None, data=request.POST)
        self._lines = OrderLineFormSet(request.POST, prefix="lines")
        if form.is_valid() and self._lines.is_valid():
            lines = [
                {k: v for k, v in f.cleaned_data.items() if v not in (None, "")}
                for f in self._lines.forms
                if f.cleaned_data and f.cleaned_data.get("quantity") is not None
            ]
            for line in lines:
                if "unit_price" not in line and line.get("product") is not None:
                    line["unit_price"] = line["product"].list_price
            try:
                with transaction.atomic():
                    order = orders.order_create(data=self.form_data(form), lines=lines, by=request.user)
                messages.success(request, _("Saved."))
                return redirect(order.get_absolute_url())
            except FAILURES as exc:
                if hasattr(exc, "error_dict"):
                    _apply_errors(form, exc)
                else:
                    form.add_error(None, error_text(exc))
        return self.render_to_response(self.context(form, None), status=400)


class OrderEdit(RecordFormView):
    model = Order
    form_class = OrderForm

    def get_form_kwargs(self):
        return {"user": self.request.user}


class OrderStatusView(RecordDetailView):
    model = Order

    def post(self, request, pk):
        order = get_visible(scoped(Order, user=request.user), user=request.user, pk=pk)
        form = OrderStatusForm(request.POST)
        if form.is_valid():
            try:
                serials = {
                    int(key[len("serials_") :]): value
                    for key, value in request.POST.items()
                    if key.startswith("serials_") and key[len("serials_") :].isdigit() and value.strip()
                }
                with transaction.atomic():
                    orders.order_set_status(
                        order=order,
                        status=form.cleaned_data["status"],
                        note=form.cleaned_data["note"],
                        by=request.user,
                        serials=serials,
                    )
                messages.success(request, _("Status changed."))
            except FAILURES as exc:
                messages.error(request, error_text(exc))
        return redirect(order.get_absolute_url())


class OrderReturn(RecordDetailView):
    """Return everything, or the quantities given per line (`qty_<line id>`)."""

    model = Order

    def post(self, request, pk):
        from decimal import Decimal, InvalidOperation

        order = get_visible(scoped(Order, user=request.user), user=request.user, pk=pk)
        quantities = {}
        try:
            for key, value in request.POST.items():
                if key.startswith("qty_") and value.strip():
                    quantities[int(key[4:])] = Decimal(value)
        except (ValueError, InvalidOperation):
            messages.error(request, _("Enter the quantities as numbers."))
            return redirect(order.get_absolute_url())
        if not Access.of(request.user).can("add", Order):
            messages.error(request, _("You do not have access to this page."))
            return redirect(order.get_absolute_url())
        try:
            ret = orders.order_return(
                order=order, quantities=quantities or None, by=request.user, note=request.POST.get("note", "")
            )
            messages.success(request, _("Return %(o)s created.") % {"o": ret})
            return redirect(ret.get_absolute_url())
        except FAILURES as exc:
            messages.error(request, error_text(exc))
        return redirect(order.get_absolute_url())
