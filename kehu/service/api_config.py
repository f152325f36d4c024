"""Service configuration over the API: business calendars (working hours, holidays and adjusted working days
per year), SLA policies and targets, queues, skills, agent profiles, routing rules, ticket categories and
canned answers. Generic scoped viewsets: rights from the role's grants, writes through the record service
(audit, field rights, If-Match)."""

from __future__ import annotations

import django_filters

from kehu.core.api import AccessAwareSerializer, ScopedModelViewSet

from . import models as m


def _serializer(model_class, fields="__all__", read_only=()):
    meta = type("Meta", (), {"model": model_class, "fields": fields, "read_only_fields": list(read_only)})
    return type(f"{model_class.__name__}Serializer", (AccessAwareSerializer,), {"Meta": meta})


class CalendarDayFilter(django_filters.FilterSet):
    year = django_filters.NumberFilter(field_name="date", lookup_expr="year")

    class Meta:
        model = m.CalendarDay
        fields = ["calendar", "kind", "year"]


def _viewset(model_class, *, filterset=None, filters=(), read_only=("version", "created_at", "updated_at")):
    fields = [f.name for f in model_class._meta.concrete_fields] + [
        f.name for f in model_class._meta.many_to_many
    ]
    serializer = _serializer(model_class, fields, [f for f in read_only if f in fields])
    attrs = {"model": model_class, "serializer_class": serializer, "__doc__": model_class.__doc__ or ""}
    if filterset is not None:
        attrs["filterset_class"] = filterset
    else:
        attrs["filterset_fields"] = list(filters)
    return type(f"{model_class.__name__}ViewSet", (ScopedModelViewSet,), attrs)


VIEWSETS = {
    "service/calendars": _viewset(m.BusinessCalendar),
    "service/working-hours": _viewset(m.WorkingHours, filters=["calendar", "weekday"]),
    "service/calendar-days": _viewset(m.CalendarDay, filterset=CalendarDayFilter),
    "service/sla-policies": _viewset(m.SlaPolicy, filters=["active"]),
    "service/sla-targets": _viewset(m.SlaTarget, filters=["policy", "priority"]),
    "service/queues": _viewset(
        m.Queue, filters=["active"], read_only=("version", "created_at", "updated_at")
    ),
    "service/skills": _viewset(m.Skill, filters=["kind"]),
    "service/agent-profiles": _viewset(
        m.AgentProfile,
        filters=["availability"],
        read_only=("version", "created_at", "updated_at", "last_assigned_at", "availability_changed_at"),
    ),
    "service/routing-rules": _viewset(m.RoutingRule, filters=["active", "queue"]),
    "service/ticket-categories": _viewset(m.TicketCategory, filters=["active"]),
    "service/canned-responses": _viewset(m.CannedResponse, filters=["active", "category"]),
}


def register(router) -> None:
    for prefix, viewset in VIEWSETS.items():
        router.register(prefix, viewset, basename=prefix.replace("/", "-"))
