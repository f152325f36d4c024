import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.analytics.models_value import ValueSegment
from kehu.analytics.rfm import Segment as RFMSegment
from kehu.core.models import Tag, User

from .models import Customer, CustomerType, Kind, Source, Stage

RFM_SEGMENTS = RFMSegment.choices
#: `?at_risk=true|false` (a choice rather than a boolean filter, which would read a typo as "any")
AT_RISK = [("true", _("Yes")), ("false", _("No"))]


class CustomerFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=Kind.choices, label=_("Kind"))
    customer_type = django_filters.ChoiceFilter(choices=CustomerType.choices, label=_("Customer type"))
    lifecycle_stage = django_filters.ChoiceFilter(choices=Stage.choices, label=_("Lifecycle stage"))
    source = django_filters.ChoiceFilter(choices=Source.choices, label=_("Source"))
    owner = django_filters.ModelChoiceFilter(queryset=User.objects.filter(is_active=True), label=_("Owner"))
    tags = django_filters.ModelChoiceFilter(queryset=Tag.objects.all(), label=_("Tag"))
    city = django_filters.CharFilter(lookup_expr="iexact", label=_("City"))
    # a search-as-you-type picker scoped to the user (a select would list every account by name)
    account = django_filters.ModelChoiceFilter(queryset=Customer.objects.none(), label=_("Account"))
    created_after = django_filters.DateFilter(
        field_name="created_at",
        lookup_expr="date__gte",
        label=_("Created from"),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    created_before = django_filters.DateFilter(
        field_name="created_at",
        lookup_expr="date__lte",
        label=_("Created until"),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    # the customers one import created or updated, for whoever may see its contents (the list is scoped too)
    import_job = django_filters.NumberFilter(method="filter_import_job", label=_("Import #"))
    # the RFM segment of the latest scoring run (kehu.analytics)
    rfm_segment = django_filters.ChoiceFilter(
        choices=RFM_SEGMENTS, method="filter_rfm_segment", label=_("RFM segment")
    )
    # the value segment and churn risk of the latest scoring run (kehu.analytics, issue #11 items 3 and 4)
    value_segment = django_filters.ChoiceFilter(
        choices=ValueSegment.choices, method="filter_value_segment", label=_("Value segment")
    )
    at_risk = django_filters.ChoiceFilter(
        choices=AT_RISK, method="filter_at_risk", label=_("At risk of churning")
    )

    # the members of a marketing segment the user may see (kehu.marketing; none when not visible)
    segment = django_filters.NumberFilter(method="filter_segment", label=_("Segment #"))

    class Meta:
        model = Customer
        fields = ["kind", "customer_type", "lifecycle_stage", "source", "owner", "tags", "city", "account"]

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, request=request, **kwargs)
        from .forms import scoped_customer_field

        user = getattr(request, "user", None)
        scoped_customer_field(self.form.fields["account"], user, kind=Kind.ORGANIZATION)
        drop_analytics_filters(self, user)

    def filter_import_job(self, queryset, name, value):
        from .imports.selectors import written_customer_ids

        user = getattr(self.request, "user", None)
        return queryset.filter(pk__in=written_customer_ids(user=user, job_id=value))

    def filter_rfm_segment(self, queryset, name, value):
        from kehu.analytics.selectors import customers_in_segment

        return customers_in_segment(queryset, user=getattr(self.request, "user", None), segment=value)

    def filter_value_segment(self, queryset, name, value):
        from kehu.analytics.selectors_value import customers_in_value_segment

        return customers_in_value_segment(queryset, user=getattr(self.request, "user", None), segment=value)

    def filter_at_risk(self, queryset, name, value):
        from kehu.analytics.selectors_value import customers_by_risk

        if value not in ("true", "false"):
            return queryset
        return customers_by_risk(queryset, user=getattr(self.request, "user", None), at_risk=value == "true")

    def filter_segment(self, queryset, name, value):
        from kehu.marketing.selectors.segments import customers_in_segment

        return customers_in_segment(queryset, user=getattr(self.request, "user", None), segment_id=int(value))


def drop_analytics_filters(filterset, user) -> None:
    """Take the analytics filters on a score or value field hidden from `user` out of a customer filterset (not
    offered; ignored when sent, like every filter on a hidden field — kehu.core.filters)."""
    from kehu.analytics.selectors_value import hidden_customer_filters
    from kehu.core.filters import drop_hidden_filters

    if user is None:  # schema generation: every filter is documented
        return
    drop_hidden_filters(filterset, hidden_customer_filters(user))
