import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .models import Queue, Ticket, TicketCategory, TicketChannel, TicketKind, TicketPriority, TicketStatus


class TicketFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=TicketStatus.choices, label=_("Status"))
    priority = django_filters.ChoiceFilter(choices=TicketPriority.choices, label=_("Priority"))
    kind = django_filters.ChoiceFilter(choices=TicketKind.choices, label=_("Type"))
    channel = django_filters.ChoiceFilter(choices=TicketChannel.choices, label=_("Channel"))
    queue = django_filters.ModelChoiceFilter(queryset=Queue.objects.all(), label=_("Queue"))
    category = django_filters.ModelChoiceFilter(queryset=TicketCategory.objects.all(), label=_("Category"))
    breached = django_filters.BooleanFilter(method="filter_breached", label=_("SLA breached"))
    out_of_warranty = django_filters.BooleanFilter(label=_("Out of warranty"))
    customer = django_filters.NumberFilter(field_name="customer_id", label=_("Customer id"))

    class Meta:
        model = Ticket
        fields = ["status", "priority", "kind", "channel", "queue", "category", "out_of_warranty", "customer"]

    def filter_breached(self, queryset, name, value):
        condition = Q(first_response_breached=True) | Q(resolution_breached=True)
        return queryset.filter(condition) if value else queryset.exclude(condition)
