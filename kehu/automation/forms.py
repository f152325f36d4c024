"""The rule form: record type, trigger and its settings as plain inputs; conditions (the segment rule tree) and
actions as JSON with every error shown with its path (docs/automation.md has the reference and examples)."""

from __future__ import annotations

import json

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import Trigger
from .services import model_choices

MAX_JSON = 50_000


def _json(value: str, default):
    if not value.strip():
        return default
    if len(value) > MAX_JSON:
        raise forms.ValidationError(_("The text is too long."))
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        raise forms.ValidationError(_("This is not valid JSON.")) from None


class RuleForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=120)
    description = forms.CharField(
        label=gettext_lazy("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    model = forms.ChoiceField(label=gettext_lazy("Record type"))
    trigger = forms.ChoiceField(label=gettext_lazy("Trigger"), choices=Trigger.choices)
    field = forms.CharField(
        label=gettext_lazy("Field (field changed, date reached, stage)"), required=False, max_length=80
    )
    from_value = forms.CharField(label=gettext_lazy("From (empty: any)"), required=False, max_length=200)
    to_value = forms.CharField(
        label=gettext_lazy("To / stage ids (empty: any; several: comma-separated)"),
        required=False,
        max_length=200,
    )
    days = forms.IntegerField(
        label=gettext_lazy("Days (before the date; negative: after; or without activity)"),
        required=False,
        min_value=-3650,
        max_value=3650,
    )
    cron = forms.CharField(
        label=gettext_lazy("Schedule (minute hour day month weekday)"), required=False, max_length=100
    )
    conditions = forms.CharField(
        label=gettext_lazy("Conditions (JSON rule tree)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "class": "mono"}),
    )
    actions = forms.CharField(
        label=gettext_lazy("Actions (JSON list)"), widget=forms.Textarea(attrs={"rows": 8, "class": "mono"})
    )
    active = forms.BooleanField(label=gettext_lazy("Active"), required=False)

    def __init__(self, *args, hidden: frozenset[str] | set[str] = frozenset(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = model_choices()
        for name in hidden:  # field rights: a hidden description is neither shown nor overwritten
            self.fields.pop(name, None)

    def clean_conditions(self):
        return _json(self.cleaned_data["conditions"], {})

    def clean_actions(self):
        return _json(self.cleaned_data["actions"], [])

    def rule_data(self) -> dict:
        d = self.cleaned_data
        trigger = d["trigger"]
        config: dict = {}
        many = [v.strip() for v in (d.get("to_value") or "").split(",") if v.strip()]
        if trigger == Trigger.FIELD_CHANGED:
            config = {
                "field": d.get("field") or "",
                "from": d.get("from_value") or "",
                "to": many if len(many) > 1 else (many[0] if many else ""),
            }
        elif trigger == Trigger.STAGE_ENTERED:
            config = {"field": d.get("field") or "stage", "stages": many}
        elif trigger == Trigger.DATE_REACHED:
            config = {"field": d.get("field") or "", "days_before": d.get("days") or 0}
        elif trigger == Trigger.NO_ACTIVITY:
            config = {"days": d.get("days") or 0}
            if d.get("field"):
                config["field"] = d["field"]
        elif trigger == Trigger.SCHEDULE:
            config = {"cron": d.get("cron") or ""}
        data = {
            "name": d["name"],
            "model": d["model"],
            "trigger": trigger,
            "trigger_config": config,
            "conditions": d["conditions"],
            "actions": d["actions"],
            "active": d["active"],
        }
        if "description" in self.fields:
            data["description"] = d.get("description") or ""
        return data

    @staticmethod
    def initial_for(rule) -> dict:
        config = rule.trigger_config or {}
        to = config.get("stages") if rule.trigger == Trigger.STAGE_ENTERED else config.get("to", "")
        return {
            "name": rule.name,
            "description": rule.description,
            "model": rule.model,
            "trigger": rule.trigger,
            "field": config.get("field", ""),
            "from_value": config.get("from", ""),
            "to_value": ",".join(map(str, to)) if isinstance(to, list) else (to or ""),
            "days": config.get("days_before", config.get("days")),
            "cron": config.get("cron", ""),
            "conditions": json.dumps(rule.conditions or {}, ensure_ascii=False, indent=2)
            if rule.conditions
            else "",
            "actions": json.dumps(rule.actions or [], ensure_ascii=False, indent=2),
            "active": rule.active,
        }
