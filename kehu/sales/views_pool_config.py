"""Configuration of the public pools for admins (generic list/detail/form views of kehu.ui.generic): pools,
recycle rules, claim limits. Rights are the model grants (configuration has no owner): by default an admin
edits all three, a sales manager edits recycle rules. Validation messages come from the models' clean() and
the forms below; writes go through the record service (audit, optimistic locking)."""

from __future__ import annotations

from django import forms
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from kehu.core.models import Action, Department, Role
from kehu.customers.models import Stage
from kehu.products.models import ProductCategory
from kehu.ui.generic import Column, RecordDetailView, RecordFormView, RecordListView

from .models import ClaimLimit, CustomerPool, PoolEvent, PoolEventKind, RecycleRule


# ------------------------------------------------------------------------------------------------ forms
class CustomerPoolForm(forms.ModelForm):
    class Meta:
        model = CustomerPool
        fields = [
            "name",
            "department",
            "product_line",
            "active",
            "hide_contact_details",
            "reclaim_cooldown_days",
        ]

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = Department.objects.all()
        self.fields["product_line"].queryset = ProductCategory.objects.all()

    def clean_name(self):
        name = " ".join((self.cleaned_data.get("name") or "").split())
        if not name:
            raise forms.ValidationError(_("Enter a name."))
        return name


class RecycleRuleForm(forms.ModelForm):
    exclude_lifecycle = forms.ChoiceField(
        label=_("never recycle customers in stage"),
        required=False,
        help_text=_("e.g. loyal customers"),
    )

    class Meta:
        model = RecycleRule
        fields = [
            "name", "pool", "department", "no_followup_days", "no_deal_days", "warn_days", "exclude_lifecycle",
            "active",
        ]  # fmt: skip

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["exclude_lifecycle"].choices = [("", "—"), *Stage.choices]
        self.fields["pool"].queryset = CustomerPool.objects.filter(active=True) | CustomerPool.objects.filter(
            pk=getattr(self.instance, "pool_id", None)
        )
        self.fields["department"].queryset = Department.objects.all()


class ClaimLimitForm(forms.ModelForm):
    class Meta:
        model = ClaimLimit
        fields = ["role", "max_customers", "max_claims_per_day"]

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].queryset = Role.objects.all()

    def clean(self):
        data = super().clean()
        most, per_day = data.get("max_customers"), data.get("max_claims_per_day")
        if most is not None and most < 1:
            self.add_error("max_customers", _("Allow at least one customer (delete the limit for no limit)."))
        if most is not None and per_day is not None and per_day > most:
            self.add_error(
                "max_claims_per_day",
                _("The claims per day cannot exceed the largest private pool (%(n)d).") % {"n": most},
            )
        return data


# ------------------------------------------------------------------------------------------------ pools
class PoolConfigList(RecordListView):
    model = CustomerPool
    required_action = Action.CHANGE  # a settings page; everybody with the view right has the pool page
    title = _("Public pools: settings")
    columns = [
        Column("name", _("Name"), "name", link=True),
        Column("department", _("Region / department"), "department__name"),
        Column("product_line", _("Product line"), "product_line__name"),
        Column("hide_contact_details", _("Contacts hidden"), "hide_contact_details"),
        Column("reclaim_cooldown_days", _("Reclaim cooldown (days)"), "reclaim_cooldown_days"),
        Column("active", _("Active"), "active"),
    ]
    search_fields = ("name",)
    default_sort = "name"
    select_related = ("department", "product_line")
    create_url_name = "sales:pool_setting_create"
    detail_url_name = "sales:pool_setting"


class PoolConfigDetail(RecordDetailView):
    model = CustomerPool
    required_action = Action.CHANGE
    template_name = "sales/pool_config_detail.html"
    fields = ["name", "department", "product_line", "active", "hide_contact_details", "reclaim_cooldown_days"]
    select_related = ("department", "product_line")
    edit_url_name = "sales:pool_setting_edit"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        pool = ctx["object"]
        ctx["rules"] = list(RecycleRule.objects.filter(pool=pool).select_related("department"))
        # the pool's latest moves (index ix_poolevent_pool: pool, -at)
        ctx["events"] = list(
            PoolEvent.objects.filter(pool=pool)
            .exclude(kind=PoolEventKind.WARNED)
            .select_related("customer", "from_owner", "to_owner", "by", "rule")
            .order_by("-at", "-id")[:20]
        )
        return ctx


class PoolConfigEdit(RecordFormView):
    model = CustomerPool
    form_class = CustomerPoolForm

    def success_url(self, obj) -> str:
        return reverse("sales:pool_setting", args=[obj.pk])


# ------------------------------------------------------------------------------------------ recycle rules
class RecycleRuleList(RecordListView):
    model = RecycleRule
    title = _("Recycle rules")
    columns = [
        Column("name", _("Name"), "name", link=True),
        Column("pool", _("Returns to pool"), "pool__name"),
        Column("department", _("Owners in department"), "department__name"),
        Column("no_followup_days", _("Days without follow-up"), "no_followup_days"),
        Column("no_deal_days", _("Days without a deal"), "no_deal_days"),
        Column("warn_days", _("Warning (days before)"), "warn_days"),
        Column("active", _("Active"), "active"),
    ]
    search_fields = ("name",)
    default_sort = "name"
    select_related = ("pool", "department")
    create_url_name = "sales:recycle_rule_create"
    detail_url_name = "sales:recycle_rule"


class RecycleRuleDetail(RecordDetailView):
    model = RecycleRule
    fields = [
        "name", "pool", "department", "no_followup_days", "no_deal_days", "warn_days", "exclude_lifecycle", "active",
    ]  # fmt: skip
    select_related = ("pool", "department")
    edit_url_name = "sales:recycle_rule_edit"
    delete_url_name = "sales:recycle_rule_delete"


class RecycleRuleEdit(RecordFormView):
    model = RecycleRule
    form_class = RecycleRuleForm

    def success_url(self, obj) -> str:
        return reverse("sales:recycle_rule", args=[obj.pk])


# ------------------------------------------------------------------------------------------- claim limits
class ClaimLimitList(RecordListView):
    model = ClaimLimit
    title = _("Claim limits")
    columns = [
        Column("role", _("Role"), "role__name", link=True),
        Column("max_customers", _("Largest private pool"), "max_customers"),
        Column("max_claims_per_day", _("Claims per day"), "max_claims_per_day"),
    ]
    default_sort = "role__name"
    select_related = ("role",)
    create_url_name = "sales:claim_limit_create"
    detail_url_name = "sales:claim_limit"


class ClaimLimitDetail(RecordDetailView):
    model = ClaimLimit
    fields = ["role", "max_customers", "max_claims_per_day"]
    select_related = ("role",)
    edit_url_name = "sales:claim_limit_edit"
    delete_url_name = "sales:claim_limit_delete"


class ClaimLimitEdit(RecordFormView):
    model = ClaimLimit
    form_class = ClaimLimitForm

    def success_url(self, obj) -> str:
        return reverse("sales:claim_limit", args=[obj.pk])
