"""Price list pages: list, detail with the items (volume tiers), header form, add an item. Writes through the
record service; a price list is configuration (no owner), changed with the change right on price lists."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from kehu.core import records
from kehu.core.exceptions import BusinessRuleError
from kehu.core.selectors import get_visible, scoped
from kehu.ui.generic import Column, RecordDetailView, RecordFormView, RecordListView

from .models import PriceList, PriceListItem, Product


class PriceListForm(forms.ModelForm):
    class Meta:
        model = PriceList
        fields = ["name", "currency", "customer_type", "valid_from", "valid_to", "active", "notes"]
        widgets = {
            "valid_from": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "valid_to": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "notes": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, **kwargs):
        from kehu.customers.models import CustomerType

        super().__init__(*args, **kwargs)
        self.fields["customer_type"] = forms.ChoiceField(
            label=PriceList._meta.get_field("customer_type").verbose_name,
            choices=[("", _("Every customer class"))] + list(CustomerType.choices),
            required=False,
        )


class PriceListItemForm(forms.ModelForm):
    class Meta:
        model = PriceListItem
        fields = ["product", "min_quantity", "unit_price"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = Product.objects.filter(active=True)

    def _post_clean(self):
        """The item's rules run in the record service (with its price list)."""


class PriceListList(RecordListView):
    model = PriceList
    title = gettext_lazy("Price lists")
    columns = [
        Column("name", gettext_lazy("Name"), "name", link=True),
        Column("currency", gettext_lazy("Currency"), "currency"),
        Column("customer_type", gettext_lazy("Customer class"), "customer_type"),
        Column("valid_from", gettext_lazy("Valid from"), "valid_from"),
        Column("valid_to", gettext_lazy("Valid until"), "valid_to"),
        Column("active", gettext_lazy("Active"), "active"),
    ]
    search_fields = ("name",)
    default_sort = "name"
    create_url_name = "products:pricelist_create"
    detail_url_name = "products:pricelist"


class PriceListDetail(RecordDetailView):
    model = PriceList
    template_name = "products/pricelist_detail.html"
    fields = ["name", "currency", "customer_type", "valid_from", "valid_to", "active", "notes"]
    edit_url_name = "products:pricelist_edit"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["items"] = list(
            scoped(PriceListItem, user=self.request.user)
            .filter(price_list=ctx["object"])
            .select_related("product")
            .order_by("product__name", "min_quantity")
        )
        ctx["item_form"] = PriceListItemForm()
        return ctx


class PriceListEdit(RecordFormView):
    model = PriceList
    form_class = PriceListForm


class PriceListItemAdd(View):
    def post(self, request, pk):
        price_list = get_visible(scoped(PriceList, user=request.user), user=request.user, pk=pk)
        form = PriceListItemForm(request.POST)
        if form.is_valid():
            try:
                with transaction.atomic():
                    records.record_create(
                        model=PriceListItem,
                        data={**form.cleaned_data, "price_list": price_list},
                        by=request.user,
                    )
                messages.success(request, _("Saved."))
            except ValidationError as exc:
                messages.error(
                    request,
                    "; ".join(" ".join(v) for v in exc.message_dict.values())
                    if hasattr(exc, "error_dict")
                    else " ".join(exc.messages),
                )
            except IntegrityError:
                messages.error(request, _("This product already has a price from this quantity."))
            except (PermissionDenied, BusinessRuleError) as exc:
                messages.error(request, str(exc))
        else:
            messages.error(request, "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
        return redirect(price_list.get_absolute_url())
