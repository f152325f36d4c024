"""Promotion pages: list, form and detail (generic views; the detail adds the redemption figures, the latest
codes of the customers the user may see, and the button that issues codes), and the redeem page where a rep or
cashier types a customer's code against one of the orders they may change. Thin: reads through
selectors/promotions.py, writes through services/promotions.py."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kehu.ui.generic import Column, RecordDetailView, RecordFormView, RecordListView

from .models import Promotion
from .selectors import promotions as selectors
from .services import promotions as services


class PromotionForm(forms.ModelForm):
    class Meta:
        model = Promotion
        fields = [
            "name",
            "campaign",
            "kind",
            "threshold",
            "discount",
            "currency",
            "gifts",
            "valid_from",
            "valid_until",
            "terms",
            "owner",
        ]
        widgets = {
            "valid_from": forms.DateInput(attrs={"type": "date"}),
            "valid_until": forms.DateInput(attrs={"type": "date"}),
            "gifts": forms.Textarea(attrs={"rows": 3}),
            "terms": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        if user is not None and "campaign" in self.fields:
            from .views_campaigns import campaign_list

            self.fields["campaign"].queryset = campaign_list(user=user).order_by("-pk")


class PromotionList(RecordListView):
    model = Promotion
    title = gettext_lazy("Promotions")
    columns = [
        Column("name", gettext_lazy("Name"), "name", link=True),
        Column("kind", gettext_lazy("Kind"), "kind"),
        Column("valid_from", gettext_lazy("Valid from"), "valid_from"),
        Column("valid_until", gettext_lazy("Valid until"), "valid_until"),
        Column("owner", gettext_lazy("Owner"), "owner__username"),
    ]
    search_fields = ("name", "terms")
    default_sort = "-pk"
    select_related = ("owner",)
    create_url_name = "marketing:promotion_create"
    detail_url_name = "marketing:promotion"
    export_fields = [
        "name",
        "kind",
        "threshold",
        "discount",
        "currency",
        "valid_from",
        "valid_until",
        "owner",
    ]

    template_name = "marketing/promotion_list.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["may_redeem"] = services.may_redeem(self.request.user)
        return ctx

    def base_queryset(self):
        return selectors.promotion_list(user=self.request.user)


class PromotionFormView(RecordFormView):
    model = Promotion
    form_class = PromotionForm

    def get_form_kwargs(self):
        kwargs = {"user": self.request.user}
        campaign = self.request.GET.get("campaign", "")
        if "pk" not in self.kwargs and campaign.isdigit():
            kwargs["initial"] = {"campaign": int(campaign)}  # "New promotion" on a campaign's page
        return kwargs

    def base_queryset(self):
        return selectors.promotion_list(user=self.request.user)


class PromotionDetail(RecordDetailView):
    model = Promotion
    template_name = "marketing/promotion_detail.html"
    fields = [
        "kind",
        "campaign",
        "threshold",
        "discount",
        "currency",
        "gifts",
        "valid_from",
        "valid_until",
        "terms",
        "owner",
    ]
    select_related = ("owner", "campaign")
    edit_url_name = "marketing:promotion_edit"

    def base_queryset(self):
        return selectors.promotion_list(user=self.request.user)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        promotion = ctx["object"]
        user = self.request.user
        ctx.update(
            stats=selectors.promotion_stats(promotion),
            codes=selectors.promotion_codes(promotion=promotion, user=user)[:50],
            can_issue=ctx["can_write"] and promotion.campaign_id is not None,
            may_redeem=services.may_redeem(user),
        )
        return ctx


@require_POST
@login_required
def promotion_issue(request, pk):
    promotion = selectors.promotion_get(user=request.user, pk=pk)
    services.ensure_can_issue(request.user, promotion)
    try:
        n = services.codes_issue(promotion=promotion, by=request.user)
        messages.success(request, _("%(n)s codes issued.") % {"n": n})
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
    return redirect(promotion.get_absolute_url())


class RedeemForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("Coupon code"), max_length=40)
    order = forms.CharField(label=gettext_lazy("Order number"), max_length=40)
    gift = forms.ChoiceField(label=gettext_lazy("Gift chosen"), required=False, choices=[("", "—")])

    def __init__(self, *args, gifts=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["gift"].choices = [("", "—"), *((g, g) for g in gifts)]


@login_required
def coupon_redeem(request):
    """Type a code and the number of an order you may change: the code is checked and used on the order."""
    if not services.may_redeem(request.user):
        raise PermissionDenied(_("You do not have access to this page."))
    data = request.POST if request.method == "POST" else None
    gifts = selectors.gift_choices(data.get("code", "")) if data is not None else []
    form = RedeemForm(data, gifts=gifts, initial={"order": request.GET.get("order", "")})
    if data is not None and form.is_valid():
        order = selectors.order_by_number(user=request.user, number=form.cleaned_data["order"])
        try:
            if order is None:
                raise ValidationError({"order": _("No order of yours has this number.")})
            coupon = services.coupon_redeem(
                code=form.cleaned_data["code"],
                order=order,
                by=request.user,
                gift=form.cleaned_data.get("gift", ""),
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(
                request,
                _("Coupon %(code)s used on order %(order)s.") % {"code": coupon.code, "order": order.number},
            )
            return redirect(order.get_absolute_url())
    return render(
        request, "marketing/coupon_redeem.html", {"form": form, "title": _("Use a coupon"), "gifts": gifts}
    )
