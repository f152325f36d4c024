"""Sensitive fields encrypted at rest (issue 14 item 3).

A value is stored in `privacy.SensitiveValue`, encrypted under the master key (crypto.py), with a blind index
(HMAC) for matching and its masked form. Which fields exist is configuration (`KEHU_PRIVACY_SENSITIVE_FIELDS`,
defaults below); each names the customer field whose field right governs it, so a role for which that field
is hidden sees nothing, anywhere (ADR 0009), a role that may see it sees the mask, and a role granted "view" on
sensitive values (`privacy.sensitivevalue`, e.g. the privacy officer) the clear value.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core import audit
from kehu.core.access import Access

from . import crypto
from .models import SensitiveValue


@dataclass(frozen=True)
class SensitiveField:
    model: str
    name: str
    label: str
    governed_by: str
    mask: str = "tail4"  # "id" (110***********1234) or "tail4" (***************1234)


def _mask_id(value: str) -> str:
    return value[:3] + "*" * (len(value) - 7) + value[-4:] if len(value) > 7 else "*" * len(value)


def _mask_tail(value: str) -> str:
    return "*" * max(len(value) - 4, 0) + value[-4:] if len(value) > 4 else "*" * len(value)


MASKS = {"id": _mask_id, "tail4": _mask_tail}

DEFAULT_FIELDS = {
    "customers.customer": {
        "id_number": {
            "label": gettext_lazy("resident ID number"),
            "governed_by": "id_number_masked",
            "mask": "id",
        },
        "bank_account": {"label": gettext_lazy("bank account"), "governed_by": "tax_id", "mask": "tail4"},
        "bank_name": {"label": gettext_lazy("bank"), "governed_by": "tax_id", "mask": "tail4"},
    }
}


def fields(model: str | None = None) -> list[SensitiveField]:
    config = getattr(settings, "KEHU_PRIVACY_SENSITIVE_FIELDS", None) or DEFAULT_FIELDS
    result = []
    for label, entries in config.items():
        if model and label != model:
            continue
        for name, spec in entries.items():
            result.append(
                SensitiveField(
                    label, name, str(spec.get("label", name)), spec["governed_by"], spec.get("mask", "tail4")
                )
            )
    return result


def field(model: str, name: str) -> SensitiveField:
    for f in fields(model):
        if f.name == name:
            return f
    raise ValidationError({name: _("This is not a sensitive field.")})


def _clean(f: SensitiveField, value: str) -> str:
    value = " ".join(str(value or "").split())
    if f.name == "id_number" and value:
        from kehu.customers import identity

        try:
            value = identity.clean_id_number(value)
        except ValidationError as exc:
            raise ValidationError({f.name: exc.messages}) from None
    if f.name == "bank_account" and value:
        digits = value.replace(" ", "")
        if not digits.isdigit() or not 12 <= len(digits) <= 30:
            raise ValidationError({f.name: _("A bank account number has 12 to 30 digits.")})
        value = digits
    if len(value) > 200:
        raise ValidationError({f.name: _("At most 200 characters.")})
    return value


def sensitive_set(*, instance, name: str, value: str, by) -> SensitiveValue | None:
    """Store (or with an empty value remove) a sensitive value of a record the user may change. The audit
    entry says which field changed, with the masked value only."""
    label = instance._meta.label_lower
    f = field(label, name)
    access = Access.of(by)
    if not access.can("change", label) or f.governed_by in access.hidden_fields(type(instance)):
        raise ValidationError({name: _("You may not change this field.")})
    value = _clean(f, value)
    with transaction.atomic():
        existing = (
            SensitiveValue.objects.select_for_update()
            .filter(model=label, object_id=str(instance.pk), field=name)
            .first()
        )
        before = existing.masked if existing else ""
        if not value:
            if existing:
                existing.delete()
            row = None
        else:
            row = existing or SensitiveValue(model=label, object_id=str(instance.pk), field=name)
            row.ciphertext = crypto.encrypt(value)
            row.blind_index = crypto.blind_index(f"{label}.{name}", value)
            row.masked = MASKS[f.mask](value)
            row.key_id = crypto.current_key_id()
            row.updated_at = timezone.now()
            row.save()
        if name == "id_number" and label == "customers.customer":
            _sync_identity(instance, value)
        # the masked values only, under the field that governs who may read them in the history
        key = "id_number_masked" if name == "id_number" and label == "customers.customer" else name
        audit.log(
            actor=by,
            action="update",
            instance=instance,
            changes={key: [before, row.masked if row else ""]},
            note="sensitive field",
        )
    return row


def _sync_identity(customer, value: str) -> None:
    """The customer's own matching key and mask (duplicate scan, search by ID number) follow the stored number."""
    from kehu.customers import identity

    type(customer)._base_manager.filter(pk=customer.pk).update(
        id_number_hash=identity.digest(value) if value else "",
        id_number_masked=identity.mask(value) if value else "",
    )


def shown(*, instance, user) -> list[dict]:
    """The sensitive fields of a record as this user may see them: absent when the governing field is hidden,
    masked, or clear for roles allowed to view sensitive values."""
    label = instance._meta.label_lower
    access = Access.of(user)
    hidden = access.hidden_fields(type(instance))
    clear = access.can("view", "privacy.sensitivevalue")
    stored = {v.field: v for v in SensitiveValue.objects.filter(model=label, object_id=str(instance.pk))}
    rows = []
    for f in fields(label):
        if f.governed_by in hidden:
            continue
        value = stored.get(f.name)
        text = ""
        if value is not None:
            text = crypto.decrypt(value.ciphertext) if clear else value.masked
        rows.append({"name": f.name, "label": f.label, "value": text, "set": value is not None})
    return rows


def match(*, model: str, name: str, value: str) -> list[str]:
    """Ids of the records whose stored value equals `value` (by blind index, nothing decrypted)."""
    f = field(model, name)
    value = _clean(f, value)
    digest = crypto.blind_index(f"{model}.{name}", value)
    return list(
        SensitiveValue.objects.filter(model=model, field=name, blind_index=digest).values_list(
            "object_id", flat=True
        )
    )


def values_for_export(customer_ids) -> list[dict]:
    rows = SensitiveValue.objects.filter(
        model="customers.customer", object_id__in=[str(i) for i in customer_ids]
    )
    return [
        {"customer_id": r.object_id, "field": r.field, "value": crypto.decrypt(r.ciphertext)} for r in rows
    ]


def plain_values(model: str, object_ids) -> list[str]:
    """The clear values of records (erasure scrubs them from free text)."""
    rows = SensitiveValue.objects.filter(model=model, object_id__in=[str(i) for i in object_ids])
    return [crypto.decrypt(r.ciphertext) for r in rows]


def rotate_all(batch: int = 500) -> dict:
    """Re-encrypt every stored value and wrapped subject key under the current first master key and
    re-compute blind indexes under the current index key. Idempotent; safe to re-run after an interruption."""
    from .models import SubjectKey

    current = crypto.current_key_id()
    counts = {"values": 0, "subject_keys": 0}
    while True:
        with transaction.atomic():
            rows = list(SensitiveValue.objects.select_for_update().exclude(key_id=current)[:batch])
            for row in rows:
                plain = crypto.decrypt(row.ciphertext)
                row.ciphertext = crypto.encrypt(plain)
                row.blind_index = crypto.blind_index(f"{row.model}.{row.field}", plain)
                row.key_id = current
            SensitiveValue.objects.bulk_update(rows, ["ciphertext", "blind_index", "key_id"])
        counts["values"] += len(rows)
        if len(rows) < batch:
            break
    while True:
        with transaction.atomic():
            keys = list(SubjectKey.objects.select_for_update().exclude(key_id=current)[:batch])
            for key in keys:
                key.wrapped = crypto.rotate(key.wrapped)
                key.key_id = current
            SubjectKey.objects.bulk_update(keys, ["wrapped", "key_id"])
        counts["subject_keys"] += len(keys)
        if len(keys) < batch:
            break
    return counts


def reindex_all() -> int:
    """Re-compute every blind index (after a change of the index key)."""
    n = 0
    for row in SensitiveValue.objects.all().iterator():
        plain = crypto.decrypt(row.ciphertext)
        SensitiveValue.objects.filter(pk=row.pk).update(
            blind_index=crypto.blind_index(f"{row.model}.{row.field}", plain)
        )
        n += 1
    return n
