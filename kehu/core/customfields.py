"""Custom fields: definitions per model, validation of values, and form integration.

Values live in the record's `custom` JSON column keyed by CustomField.key, so they are usable in filters
(`custom__<key>`), lists, the API and exports on both SQLite and PostgreSQL without schema changes.
"""

from __future__ import annotations

import datetime as dt
import decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from .models import CustomField, CustomFieldType

FORM_PREFIX = "cf_"


def definitions(model) -> list[CustomField]:
    label = model if isinstance(model, str) else model._meta.label_lower
    return list(CustomField.objects.filter(model=label, active=True).order_by("position", "id"))


def clean_value(definition: CustomField, raw):
    """Coerce one raw value (from a form, JSON or an import) to its stored JSON form, or raise."""
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        if definition.required:
            raise ValidationError(_("This field is required."))
        return None
    kind = definition.field_type
    if kind == CustomFieldType.TEXT:
        value = str(raw).strip()
        if len(value) > 1000:
            raise ValidationError(_("At most 1000 characters."))
        return value
    if kind == CustomFieldType.NUMBER:
        if isinstance(raw, bool):
            raise ValidationError(_("Enter a number."))
        try:
            number = decimal.Decimal(str(raw).strip().replace(",", ""))
        except (decimal.InvalidOperation, ValueError):
            raise ValidationError(_("Enter a number.")) from None
        if not number.is_finite():
            raise ValidationError(_("Enter a number."))
        # JSON numbers so that range filters compare numerically on both databases.
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == CustomFieldType.DATE:
        if isinstance(raw, dt.date):
            return raw.isoformat()
        try:
            return dt.date.fromisoformat(str(raw).strip()).isoformat()
        except ValueError:
            raise ValidationError(_("Enter a date as YYYY-MM-DD.")) from None
    if kind == CustomFieldType.BOOLEAN:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in {"1", "true", "yes", "y", "on", "是"}:
            return True
        if text in {"0", "false", "no", "n", "off", "否"}:
            return False
        raise ValidationError(_("Enter yes or no."))
    if kind == CustomFieldType.CHOICE:
        value = str(raw).strip()
        if value not in definition.choices:
            raise ValidationError(
                _("Choose one of: %(choices)s") % {"choices": ", ".join(definition.choices)}
            )
        return value
    raise ValidationError(_("Unknown field type."))


def clean_values(
    model, values: dict | None, *, current: dict | None = None, partial: bool = False, defs=None
) -> dict:
    """Validate a dict of custom values against the model's definitions; unknown keys are refused.
    `defs` (the model's active definitions) spares the query when validating many records."""
    values = values or {}
    if not isinstance(values, dict):
        raise ValidationError({"custom": _("Custom fields must be an object of key: value.")})
    defs = {d.key: d for d in (definitions(model) if defs is None else defs)}
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(values) - set(defs))
    if unknown:
        errors["custom"] = [_("Unknown custom fields: %(keys)s") % {"keys": ", ".join(unknown)}]
    result = dict(current or {})
    for key, definition in defs.items():
        if partial and key not in values:
            continue
        try:
            cleaned = clean_value(definition, values.get(key))
        except ValidationError as exc:
            errors[f"custom.{key}"] = exc.messages
            continue
        if cleaned is None:
            result.pop(key, None)
        else:
            result[key] = cleaned
    if errors:
        raise ValidationError(errors)
    return result


def form_field(definition: CustomField) -> forms.Field:
    common = {"label": definition.label, "required": definition.required}
    kind = definition.field_type
    if kind == CustomFieldType.NUMBER:
        return forms.DecimalField(**common)
    if kind == CustomFieldType.DATE:
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    if kind == CustomFieldType.BOOLEAN:
        return forms.BooleanField(label=definition.label, required=False)
    if kind == CustomFieldType.CHOICE:
        return forms.ChoiceField(choices=[("", "—"), *[(c, c) for c in definition.choices]], **common)
    return forms.CharField(max_length=1000, **common)


def add_to_form(form: forms.BaseForm, model, instance=None) -> list[str]:
    """Add one form field per active custom field; returns their form names."""
    names = []
    current = (getattr(instance, "custom", None) or {}) if instance is not None else {}
    for definition in definitions(model):
        name = FORM_PREFIX + definition.key
        form.fields[name] = form_field(definition)
        if definition.key in current:
            form.initial[name] = current[definition.key]
        names.append(name)
    return names


def from_form(cleaned_data: dict) -> dict:
    return {
        name[len(FORM_PREFIX) :]: value
        for name, value in cleaned_data.items()
        if name.startswith(FORM_PREFIX)
    }
