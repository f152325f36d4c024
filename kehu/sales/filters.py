import django_filters
from django.utils.translation import gettext_lazy as _

from kehu.core.models import Team, User

from .models import Lead, LeadSource, LeadStatus, Opportunity, OpportunityStatus, Pipeline, Stage


class LeadFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=LeadStatus.choices, label=_("Status"))
    source = django_filters.ChoiceFilter(choices=LeadSource.choices, label=_("Source"))
    owner = django_filters.ModelChoiceFilter(queryset=User.objects.filter(is_active=True), label=_("Owner"))

    class Meta:
        model = Lead
        fields = ["status", "source", "owner"]


class OpportunityFilter(django_filters.FilterSet):
    pipeline = django_filters.ModelChoiceFilter(queryset=Pipeline.objects.all(), label=_("Pipeline"))
    stage = django_filters.ModelChoiceFilter(queryset=Stage.objects.all(), label=_("Stage"))
    status = django_filters.ChoiceFilter(choices=OpportunityStatus.choices, label=_("Status"))
    owner = django_filters.ModelChoiceFilter(queryset=User.objects.filter(is_active=True), label=_("Owner"))
    team = django_filters.ModelChoiceFilter(
        queryset=Team.objects.all(), label=_("Team"), method="filter_team"
    )
    close_from = django_filters.DateFilter(
        field_name="expected_close_date", lookup_expr="gte", label=_("Closing from")
    )
    close_to = django_filters.DateFilter(
        field_name="expected_close_date", lookup_expr="lte", label=_("Closing until")
    )

    class Meta:
        model = Opportunity
        fields = ["pipeline", "stage", "status", "owner"]

    def filter_team(self, queryset, name, value):
        members = Team.members.through.objects.filter(team_id=value.pk).values("user_id")
        return queryset.filter(owner_id__in=members)
