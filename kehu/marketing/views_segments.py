"""Segment pages: the list and detail (generic views), the rule builder (create/edit) with its live count and
member sample (``segment_preview``: the count in the user's scope), and the snapshot action. Thin: reads
through kehu.marketing.selectors.segments, writes through kehu.marketing.services.segments. The builder's
behaviour is in static/marketing/segments.js (no inline script: docs/adr/0007)."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kehu.core.access import Access
from kehu.core.exceptions import StaleRecordError
from kehu.core.models import Action
from kehu.ui.generic import Column, RecordDeleteView, RecordDetailView, RecordListView

from . import rules
from .models import Segment, SegmentKind
from .selectors import segments as selectors
from .services import segments as services

MAX_BODY = 60_000


class SegmentList(RecordListView):
    model = Segment
    title = gettext_lazy("Segments")
    columns = [
        Column("name", gettext_lazy("Name"), "name", link=True),
        Column("kind", gettext_lazy("Kind"), "kind"),
        Column("owner", gettext_lazy("Owner"), "owner__username"),
        Column("updated_at", gettext_lazy("Updated"), "updated_at"),
    ]
    search_fields = ("name", "description")
    default_sort = "name"
    select_related = ("owner",)
    create_url_name = "marketing:segment_create"
    detail_url_name = "marketing:segment"
    export_fields = ["name", "kind", "description", "owner"]

    def base_queryset(self):
        return selectors.segment_list(user=self.request.user)


class SegmentDetail(RecordDetailView):
    model = Segment
    template_name = "marketing/segment_detail.html"
    fields = ["kind", "description", "owner"]
    select_related = ("owner",)
    edit_url_name = "marketing:segment_edit"
    delete_url_name = "marketing:segment_delete"

    def get_object(self):
        return selectors.segment_get(user=self.request.user, pk=self.kwargs["pk"])

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        segment = ctx["object"]
        try:
            qs = selectors.segment_members(segment=segment, user=self.request.user)
            ctx["member_count"] = qs.count()
            ctx["sample"] = selectors.member_sample(qs, user=self.request.user)
        except rules.RuleError as exc:
            ctx["rule_errors"] = exc.messages
        if "definition" not in self.access.hidden_fields(Segment):
            ctx["rule_lines"] = rules.describe(segment.definition or {})
            ctx["rules_json"] = json.dumps(segment.definition or {}, ensure_ascii=False, indent=2)
        ctx["customers_url"] = reverse("customers:list") + f"?segment={segment.pk}"
        ctx["can_snapshot"] = self.access.can(Action.ADD, Segment)
        return ctx


class SegmentDelete(RecordDeleteView):
    model = Segment
    success_url_name = "marketing:segments"


def _builder_context(request, segment, definition, errors, name="", description="") -> dict:
    access = Access.of(request.user)
    return {
        "title": _("Edit %(name)s") % {"name": segment} if segment else _("New segment"),
        "object": segment,
        "schema": rules.builder_schema(access),
        "definition": definition,
        "definition_json": json.dumps(definition, ensure_ascii=False),
        "errors": errors,
        "name": name,
        "description": description,
        "version": segment.version if segment else "",
        "texts": builder_texts(),
        "hidden": access.hidden_fields(Segment),
    }


def builder_texts() -> dict:
    """The builder script's words, translated here (no strings in the script)."""
    return {
        "all": _("all of"),
        "any": _("any of"),
        "match_prefix": _("Customers matching"),
        "match_suffix": _("these conditions"),
        "add_condition": _("Add condition"),
        "add_group": _("Add group"),
        "remove": _("Remove"),
        "exclude": _("Leave out customers matching any of"),
        "add_exclusion": _("Add exclusion"),
        "field": _("Field"),
        "operator": _("Operator"),
        "value": _("Value"),
        "any_time": _("any time"),
        "last_days": _("in the last N days"),
        "date_range": _("between dates"),
        "currency": _("Currency"),
        "channels": _("Channels (none: every channel)"),
        "days": _("days"),
        "choose": _("Choose…"),
        "no_members": _("Nobody matches yet."),
        "period": _("Period"),
        "from": _("from"),
        "to": _("to"),
    }


def segment_builder(request, pk=None):
    """Create (no pk) or edit a dynamic segment: name, description and the rule tree (a JSON field the
    builder script keeps in step with the controls)."""
    access = Access.of(request.user)
    segment = None
    if pk is not None:
        if not access.can(Action.CHANGE, Segment):
            raise PermissionDenied(_("You do not have access to this page."))
        segment = selectors.segment_get(user=request.user, pk=pk)
        if not access.can_write_record(segment):
            raise PermissionDenied(_("You may see this record but not change it."))
    elif not access.can(Action.ADD, Segment):
        raise PermissionDenied(_("You do not have access to this page."))
    hidden = access.hidden_fields(Segment)
    if "definition" in hidden:  # the builder is the rules: nothing to show or edit without them
        raise PermissionDenied(_("You do not have access to this page."))
    if request.method != "POST":
        definition = (segment.definition if segment else None) or {"match": "all", "conditions": []}
        ctx = _builder_context(
            request,
            segment,
            definition,
            [],
            segment.name if segment and "name" not in hidden else "",
            segment.description if segment and "description" not in hidden else "",
        )
        return render(request, "marketing/segment_builder.html", ctx)
    name = request.POST.get("name", "").strip()
    description = request.POST.get("description", "").strip()
    raw = request.POST.get("definition", "")
    errors: list[str] = []
    if not name:
        errors.append(_("Give the segment a name."))
    data = {"name": name[:200], "description": description, "definition": raw}
    for field_name in hidden:  # fields hidden from the editor are neither shown nor written
        data.pop(field_name, None)
    if "name" in hidden and segment is not None:
        errors = [e for e in errors if e != _("Give the segment a name.")]
    try:
        definition = rules.parse_definition(raw)
    except rules.RuleError as exc:
        errors.extend(exc.messages)
        definition = {"match": "all", "conditions": []}
    if not errors:
        try:
            with transaction.atomic():
                if segment is None:
                    saved = services.segment_create(
                        data={**data, "kind": SegmentKind.DYNAMIC}, by=request.user
                    )
                else:
                    version = request.POST.get("version", "")
                    saved = services.segment_update(
                        segment=segment,
                        data=data,
                        by=request.user,
                        expected_version=int(version) if version.isdigit() else None,
                    )
            messages.success(request, _("Segment saved."))
            return redirect(saved.get_absolute_url())
        except StaleRecordError as exc:
            errors.append(exc.message)
        except ValidationError as exc:
            errors.extend(exc.messages)
    ctx = _builder_context(request, segment, definition, errors, name, description)
    return render(request, "marketing/segment_builder.html", ctx, status=400)


@require_POST
def segment_preview(request):
    """The live count: POST {"definition": …} (JSON) → {"count", "sample": [{"id", "name", "url"}]} over the
    customers in the caller's scope, or 400 {"errors": […]} naming each problem."""
    if not Access.of(request.user).can(Action.VIEW, Segment):
        raise PermissionDenied(_("You do not have access to this page."))
    if len(request.body) > MAX_BODY:
        return JsonResponse({"errors": [_("The rules are too long.")]}, status=400)
    try:
        payload = json.loads(request.body or b"{}")
        definition = payload.get("definition", {}) if isinstance(payload, dict) else None
    except (ValueError, RecursionError):
        definition = None
    if definition is None:
        return JsonResponse({"errors": [_("The rules are not valid JSON.")]}, status=400)
    try:
        _clean, qs = selectors.rules_members(definition=definition, user=request.user)
    except rules.RuleError as exc:
        return JsonResponse({"errors": exc.messages}, status=400)
    return JsonResponse(
        {
            "count": qs.count(),
            "sample": [
                {"id": c.pk, "name": c.name or f"#{c.pk}", "url": c.get_absolute_url()}
                for c in selectors.member_sample(qs, user=request.user)
            ],
        }
    )


@require_POST
def segment_snapshot(request, pk):
    """Take a static snapshot of a segment (members in the user's scope, one INSERT … SELECT)."""
    if not Access.of(request.user).can(Action.ADD, Segment):
        raise PermissionDenied(_("You do not have access to this page."))
    segment = selectors.segment_get(user=request.user, pk=pk)
    try:
        with transaction.atomic():
            snapshot = services.segment_snapshot(
                segment=segment, by=request.user, name=request.POST.get("name", "")
            )
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
        return redirect(segment.get_absolute_url())
    messages.success(request, _("Snapshot saved."))
    return redirect(snapshot.get_absolute_url())
