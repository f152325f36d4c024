"""Erasure (PIPL art. 47, GDPR art. 17): a customer's personal data removed or irreversibly masked across every
app, keeping counts, amounts and the legally required records (orders, invoices, payments) — see ADR 0024.

1. The customer's own contact points (phones, emails, addresses, social ids), duplicate candidates and
   sensitive values are deleted; consent events keep channel, status and date (proof), lose their evidence text.
2. Every row of every app that points at the customer (kehu/privacy/graph.py) keeps its ids, numbers, amounts,
   dates and choice codes; its free text is blanked (or "[erased]" where a value is required), its files
   removed, its JSON emptied. Order numbers, currencies, invoice numbers stay (accounting).
3. The customer row keeps kind, type, stage, source, owner and dates; its name becomes "[erased #id]".
4. The customer's portal accounts are closed and stripped of name and email.
5. A scrub replaces the person's remaining values (name, alias, phones, emails, ID number, tax id, addresses,
   social ids) where they occur inside longer text in any table (notes that mention them, notifications,
   automation runs, import rows). A column that equals such a value exactly in a record *not* linked to the
   customer belongs to someone else (a namesake, a shared office phone) and is left alone.
6. The customer's audit key is destroyed (its sealed audit values become unreadable for good) and a tombstone is
   written to the `privacy.Erasure` table and to the tombstone file outside the database, which
   `kehu privacy reapply-erasures` replays after a restore.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from kehu.core import audit
from kehu.core.models import AuditEntry

from . import graph, sensitive
from .models import Erasure, SensitiveValue, SubjectKey

ERASED = "[erased]"
#: rows of these record types are the person's contact points: deleted
DELETE = {
    "customers.customerphone",
    "customers.customeremail",
    "customers.customeraddress",
    "customers.socialidentity",
    "customers.duplicatecandidate",
}
#: text fields kept on linked rows: record numbers and codes that accounting and other records refer to
KEEP = {"number", "currency", "invoice_number", "serial_number", "sku", "code", "country", "dedup_key"}
#: per record type: more fields kept (what was sold is accounting data, not personal data)
KEEP_BY_MODEL = {
    "sales.orderline": {"description", "unit", "serial_numbers"},
    "sales.opportunityline": {"description"},
}
#: derived columns the scrub leaves alone (rebuilt from the row; scrubbing them would break other rows' search)
DERIVED = {"search_text", "search_restricted", "name_key", "name_pinyin", "name_initials"}
#: customer fields kept (not personal, needed for aggregates and scope)
CUSTOMER_KEEP = {
    "id",
    "kind",
    "account",
    "parent",
    "customer_type",
    "lifecycle_stage",
    "source",
    "owner",
    "created_at",
    "updated_at",
    "version",
    "merged_into",
    "consent",
    "preferred_language",
    "industry",
}


def erased_name(pk: int) -> str:
    return f"[erased #{pk}]"


def tombstone_path() -> Path:
    configured = getattr(settings, "KEHU_PRIVACY_TOMBSTONE_FILE", "")
    return Path(configured) if configured else Path(settings.VAR_DIR) / "privacy" / "erasures.jsonl"


def _subject_ids(customer_id: int) -> list[int]:
    """The customer and every customer merged into it (their records are the same person's)."""
    from kehu.customers.models import Customer

    ids, frontier = {customer_id}, [customer_id]
    while frontier:
        frontier = list(
            Customer._base_manager.filter(merged_into_id__in=frontier)
            .exclude(pk__in=ids)
            .values_list("pk", flat=True)
        )
        ids.update(frontier)
    return sorted(ids)


def _values(ids: list[int]) -> set[str]:
    """The person's identifying values (and their display forms) to scrub from free text."""
    from kehu.customers import normalize
    from kehu.customers.models import Customer, CustomerAddress, CustomerEmail, CustomerPhone, SocialIdentity

    found: set[str] = set()
    for row in Customer._base_manager.filter(pk__in=ids).values(
        "name", "alias", "phone", "email", "tax_id", "contact_person", "website"
    ):
        found.update(v for v in row.values() if v)
    for number, ext in CustomerPhone.objects.filter(customer_id__in=ids).values_list("number", "extension"):
        found.add(number)
        found.add(normalize.format_phone(number, ext))
        found.add(normalize.format_phone(number))
    for (email,) in CustomerEmail.objects.filter(customer_id__in=ids).values_list("email"):
        found.add(email)
    for address in CustomerAddress.objects.filter(customer_id__in=ids):
        found.update(v for v in (address.street, str(address)) if v)
    for (handle,) in SocialIdentity.objects.filter(customer_id__in=ids).values_list("handle"):
        found.add(handle)
    found.update(sensitive.plain_values("customers.customer", ids))
    more = set()
    for value in found:
        if value.startswith("+86"):
            more.add(value[3:])  # the national form people type
        if "@" in value:
            more.add(normalize.display_email(value))
    found |= more
    return {v for v in found if len(v.strip()) >= 2}


def _blank(f: models.Field):
    if isinstance(f, models.JSONField):
        return f.get_default()
    if f.null and not isinstance(f, models.CharField | models.TextField):
        return None
    if f.blank:
        return ""
    return ERASED[: getattr(f, "max_length", None) or len(ERASED)]


def _anonymise_fields(model: type[models.Model]) -> list[models.Field]:
    result = []
    keep = KEEP | KEEP_BY_MODEL.get(model._meta.label_lower, set())
    for f in model._meta.concrete_fields:
        if f.primary_key or f.name in keep or f.choices or f.unique:
            continue
        if isinstance(f, models.CharField | models.TextField | models.JSONField | models.FileField):
            if (
                isinstance(f, models.CharField)
                and not f.editable
                and f.name.endswith(("_key", "_id", "token"))
            ):
                continue  # idempotency keys and external ids written by services
            result.append(f)
    return result


def _anonymise_holder(holder: graph.Holder, ids: list[int]) -> int:
    qs = graph.rows_of(holder, ids)
    if holder.label in DELETE:
        count = qs.count()
        qs.delete()
        return count
    fields = _anonymise_fields(holder.model)
    if not fields:
        return qs.count()
    for f in fields:
        if isinstance(f, models.FileField):
            for obj in qs.exclude(**{f.name: ""}).only("pk", f.attname):
                file = getattr(obj, f.attname)
                if file and file.name:
                    file.storage.delete(file.name)
    return qs.update(**{f.name: _blank(f) for f in fields})


def _anonymise_customers(ids: list[int]) -> None:
    from kehu.customers import keys
    from kehu.customers.models import ConsentEvent, Customer

    ConsentEvent.objects.filter(customer_id__in=ids).update(evidence="")
    for customer in Customer._base_manager.filter(pk__in=ids):
        for f in Customer._meta.concrete_fields:
            if f.name in CUSTOMER_KEEP or f.primary_key:
                continue
            if f.name == "name":
                customer.name = erased_name(customer.pk)
            elif f.name == "custom":
                customer.custom = {}
            elif isinstance(f, models.CharField | models.TextField):
                setattr(customer, f.attname, "")
            elif f.null:
                setattr(customer, f.attname, None)
        customer.tags.clear()
        keys.refresh(customer)
        customer.updated_at = timezone.now()
        customer.save()


def _close_portal_accounts(ids: list[int]) -> int:
    try:
        PortalUser = apps.get_model("portal", "PortalUser")
    except LookupError:
        return 0
    n = 0
    for profile in PortalUser.objects.filter(customer_id__in=ids).select_related("user"):
        user = profile.user
        user.username = f"erased-{user.pk}"
        user.email = ""
        for name in ("first_name", "last_name", "display_name"):
            if hasattr(user, name):
                setattr(user, name, "")
        user.is_active = False
        user.set_unusable_password()
        user.save()
        n += 1
    return n


def _text_columns():
    """(table, column, is_json, model) of every text column of every model table, but the audit trail (sealed,
    append-only) and the privacy app's own tables."""
    for model in apps.get_models():
        if model is AuditEntry or model._meta.app_label == "privacy" or not model._meta.managed:
            continue
        for f in model._meta.concrete_fields:
            if f.name in DERIVED and model._meta.label_lower == "customers.customer":
                continue
            if isinstance(f, models.CharField | models.TextField | models.JSONField):
                yield model._meta.db_table, f.column, isinstance(f, models.JSONField), model


def _like(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def scrub(values: set[str]) -> int:
    """Replace each value inside longer text in every text column (see the module docstring, step 5)."""
    changed = 0
    forms = set()
    for value in values:
        forms.add((value, value))
        escaped = json.dumps(value)[1:-1]
        if escaped != value:
            forms.add((escaped, value))  # JSON columns on SQLite store non-ASCII as \\uXXXX
    qn = connection.ops.quote_name
    pg = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        for table, column, is_json, _model in _text_columns():
            col = f"{qn(column)}::text" if (pg and is_json) else qn(column)
            for needle, _orig in sorted(forms, key=lambda f: -len(f[0])):
                new = f"REPLACE({col}, %s, %s)" + ("::jsonb" if pg and is_json else "")
                cursor.execute(
                    f"UPDATE {qn(table)} SET {qn(column)} = {new} WHERE {col} LIKE %s ESCAPE '\\' AND {col} <> %s",  # noqa: S608 - names from model metadata, quoted # nosec B608
                    [needle, ERASED, _like(needle), needle if not is_json else json.dumps(needle)],
                )
                changed += cursor.rowcount or 0
    return changed


def _write_tombstone(customer_id: int, request_id: int | None) -> None:
    Erasure.objects.get_or_create(customer_id=customer_id, defaults={"request_id": request_id})
    path = tombstone_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(
        {"customer_id": customer_id, "request_id": request_id, "at": timezone.now().isoformat()}
    )
    with path.open("a", encoding="utf-8") as out:
        out.write(line + "\n")


def erase_customer(*, customer_id: int, by, request_id: int | None = None, tombstone: bool = True) -> dict:
    """Erase one customer (and the customers merged into it). Returns what was done, per record type (counts
    only: the outcome holds nothing personal)."""
    from kehu.customers.models import Customer

    with transaction.atomic():
        Customer._base_manager.select_for_update().filter(pk=customer_id).first()
        ids = _subject_ids(customer_id)
        values = _values(ids)
        outcome: dict[str, int] = {}
        for holder in graph.holders():
            if holder.model._meta.app_label == "privacy" or holder.model is Customer:
                continue
            n = _anonymise_holder(holder, ids)
            if n:
                outcome[holder.label] = outcome.get(holder.label, 0) + n
        outcome["portal_accounts_closed"] = _close_portal_accounts(ids)
        outcome["sensitive_values_deleted"] = SensitiveValue.objects.filter(
            model="customers.customer", object_id__in=[str(i) for i in ids]
        ).delete()[0]
        _anonymise_customers(ids)
        from .models import PrivacyRequest

        for cid in ids:
            PrivacyRequest.objects.filter(customer_id=cid).update(
                subject_label=erased_name(cid), requester=ERASED, details="", corrections={}, export_file=None
            )
        outcome["customers.customer"] = len(ids)
        outcome["text_scrubbed"] = scrub(values)
        for cid in ids:
            if tombstone:
                _write_tombstone(cid, request_id)
            else:
                Erasure.objects.get_or_create(customer_id=cid, defaults={"request_id": request_id})
        outcome["audit_keys_destroyed"] = SubjectKey.objects.filter(customer_id__in=ids).delete()[0]
        outcome = {k: v for k, v in outcome.items() if v}
        audit.log(
            actor=by,
            action="update",
            model="customers.customer",
            object_id=customer_id,
            object_repr=erased_name(customer_id),
            changes={"erased": outcome},
            note=f"privacy erasure (request #{request_id})" if request_id else "privacy erasure",
        )
    return outcome


def is_erased(customer) -> bool:
    return customer.name == erased_name(customer.pk)


def reapply_erasures(*, by=None) -> dict:
    """After a restore: erase again every customer in the tombstone file or table that the restored database
    holds un-erased (or whose audit key or sensitive values came back)."""
    from kehu.customers.models import Customer

    wanted: dict[int, int | None] = {}
    path = tombstone_path()
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                wanted[int(row["customer_id"])] = row.get("request_id")
    for cid, rid in Erasure.objects.values_list("customer_id", "request_id"):
        wanted.setdefault(cid, rid)
    done, skipped = [], 0
    for cid, rid in sorted(wanted.items()):
        customer = Customer._base_manager.filter(pk=cid).first()
        back = (
            (customer is not None and not is_erased(customer))
            or SubjectKey.objects.filter(customer_id=cid).exists()
            or SensitiveValue.objects.filter(model="customers.customer", object_id=str(cid)).exists()
        )
        if not back:
            Erasure.objects.get_or_create(customer_id=cid, defaults={"request_id": rid})
            skipped += 1
            continue
        if customer is None:
            SubjectKey.objects.filter(customer_id=cid).delete()
            SensitiveValue.objects.filter(model="customers.customer", object_id=str(cid)).delete()
            Erasure.objects.get_or_create(customer_id=cid, defaults={"request_id": rid})
        else:
            erase_customer(customer_id=cid, by=by, request_id=rid, tombstone=False)
        done.append(cid)
    return {"reapplied": len(done), "already_erased": skipped, "tombstones": len(wanted)}


def after_restore(write) -> None:
    """`kehu restore` hook (kehu.security.backup.AFTER_RESTORE): erasures recorded after the backup was taken are
    applied again before anyone reads the restored data (ADR 0024)."""
    result = reapply_erasures()
    write(
        f"privacy: {result['reapplied']} erasure(s) re-applied from {result['tombstones']} tombstone(s), "
        f"{result['already_erased']} already erased"
    )
