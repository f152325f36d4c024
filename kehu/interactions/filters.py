import django_filters
from django.utils.translation import gettext_lazy as _

from kehu.core.models import User

from .models import Direction, Interaction, InteractionChannel, Priority, Task


class InteractionFilter(django_filters.FilterSet):
    channel = django_filters.ChoiceFilter(choices=InteractionChannel.choices, label=_("Channel"))
    direction = django_filters.ChoiceFilter(choices=Direction.choices, label=_("Direction"))
    user = django_filters.ModelChoiceFilter(
        queryset=User.objects.filter(is_active=True), label=_("Handled by")
    )
    since = django_filters.DateFilter(field_name="occurred_at", lookup_expr="date__gte", label=_("From"))
    until = django_filters.DateFilter(field_name="occurred_at", lookup_expr="date__lte", label=_("To"))
    customer = django_filters.NumberFilter(field_name="customer_id", label=_("Customer id"))

    class Meta:
        model = Interaction
        fields = ["channel", "direction", "user", "since", "until", "customer"]


class TaskFilter(django_filters.FilterSet):
    priority = django_filters.ChoiceFilter(choices=Priority.choices, label=_("Priority"))

    class Meta:
        model = Task
        fields = ["priority"]
