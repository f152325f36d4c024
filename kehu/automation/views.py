"""Workflow rule pages: the list, the form (create/edit), the detail with versions, the run log, the on/off
switch and the dry run. Thin: reads through selectors, writes through services (ADR 0019)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core.access import Access
from kehu.core.exceptions import StaleRecordError
from kehu.core.models import Action
from kehu.marketing.rules import schema_for_fields
from kehu.marketing.views_segments import builder_texts

from . import actions as action_types
from . import conditions, engine, selectors, services
from .forms import RuleForm
from .models import Rule, RuleVersion


def _require(request, action: str) -> Access:
    access = Access.of(request.user)
    if not access.can(action, Rule):
        raise PermissionDenied(_("You do not have access to this page."))
    return access


def rule_list(request):
    access = _require(request, Action.VIEW)
    rules = selectors.rule_list(user=request.user).order_by("name", "id")[:500]
    return render(
        request,
        "automation/rule_list.html",
        {"title": _("Workflow rules"), "rules": rules, "can_add": access.can(Action.ADD, Rule)},
    )


def rule_detail(request, pk: int):
    access = _require(request, Action.VIEW)
    rule = selectors.rule_get(user=request.user, pk=pk)
    context = {
        "title": rule.name,
        "rule": rule,
        "runs": selectors.rule_runs(rule=rule),
        "versions": RuleVersion.objects.filter(rule=rule).select_related("by")[:20],
        "can_change": access.filter(Rule.objects.filter(pk=rule.pk), mode="write").exists()
        and access.can(Action.CHANGE, Rule),
        "dry": request.session.pop(f"automation-dry-{rule.pk}", None),
    }
    return render(request, "automation/rule_detail.html", context)


def rule_edit(request, pk: int | None = None):
    _require(request, Action.CHANGE if pk else Action.ADD)
    rule = selectors.rule_get(user=request.user, pk=pk) if pk else None
    hidden = set(Access.of(request.user).hidden_fields(Rule))
    if request.method == "POST":
        form = RuleForm(request.POST, hidden=hidden)
        if form.is_valid():
            try:
                if rule is None:
                    rule = services.rule_create(data=form.rule_data(), by=request.user)
                else:
                    version = int(request.POST.get("version") or rule.version)
                    rule = services.rule_update(
                        rule=rule, data=form.rule_data(), by=request.user, expected_version=version
                    )
                messages.success(request, _("Saved: version %(v)d.") % {"v": rule.version})
                return redirect(rule.get_absolute_url())
            except StaleRecordError as exc:
                form.add_error(None, str(exc))
            except ValidationError as exc:
                for error in exc.messages:
                    form.add_error(None, error)
    else:
        initial = RuleForm.initial_for(rule) if rule else {"actions": "[]"}
        if rule is None:  # the record type whose fields the builder offers (?model= after a change)
            choices = dict(services.model_choices())
            wanted = request.GET.get("model", "customers.customer")
            initial["model"] = wanted if wanted in choices else next(iter(choices), "")
        form = RuleForm(initial=initial, hidden=hidden)
    label = (form.data.get("model") if form.is_bound else form.initial.get("model")) or "customers.customer"
    fields = []
    try:
        fields = conditions.available(label, Access.of(request.user))
    except LookupError:
        pass
    return render(
        request,
        "automation/rule_form.html",
        {
            "title": rule.name if rule else _("New workflow rule"),
            "form": form,
            "rule": rule,
            "fields": fields,
            # the segment rule builder (marketing/segments.js) over this record type's condition fields
            "schema": schema_for_fields(fields),
            "texts": {
                **builder_texts(),
                "match_prefix": _("Records matching"),
                "exclude": _("Leave out records matching any of"),
            },  # fmt: skip
            "action_types": [(k, v.label) for k, v in action_types.ACTIONS.items()],
        },
    )


@require_POST
def rule_switch(request, pk: int):
    _require(request, Action.CHANGE)
    rule = selectors.rule_get(user=request.user, pk=pk)
    try:
        services.rule_switch(rule=rule, active=request.POST.get("active") == "1", by=request.user)
        messages.success(request, _("The rule is on.") if rule.active else _("The rule is off."))
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
    return redirect(rule.get_absolute_url())


@require_POST
def rule_dry_run(request, pk: int):
    _require(request, Action.VIEW)
    rule = selectors.rule_get(user=request.user, pk=pk)
    model = conditions.model_of(rule.model)
    raw = (request.POST.get("record") or "").strip()
    if not raw.isdigit() or len(raw) > 18:
        messages.error(request, _("Enter the id of a record."))
        return redirect(rule.get_absolute_url())
    try:
        record = Access.of(request.user).filter(model._default_manager.filter(pk=int(raw))).get()
    except model.DoesNotExist:
        raise Http404 from None
    request.session[f"automation-dry-{rule.pk}"] = engine.dry_run(rule, record, by=request.user)
    return redirect(rule.get_absolute_url())
