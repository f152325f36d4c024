"""Merging duplicate customers into a survivor, and undoing a merge.

Every row of every model that points at a merged customer (phones, emails, addresses, consent, lifecycle,
contacts, branches, interactions, tasks, installed products, shares... and whatever later apps add) is moved
to the survivor. What moved is recorded in a MergeRecord so that `customer_merge_undo` can put each row back.
Merged customers are not deleted: they keep their row with `merged_into` set (hidden from lists), so their
history and audit trail stay, and the undo has somewhere to return to.
"""

from __future__ import annotations

from django.apps import apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import audit, records
from kehu.core.exceptions import ConflictError, FieldNotWritable
from kehu.core.fieldvalues import from_json, to_json
from kehu.core.models import Action, AuditAction, RecordShare

from .models import PROFILE_FIELDS, ConsentEvent, Customer, DuplicateCandidate, MergeRecord
from .services import refresh_search_keys

# relations that describe merges themselves, or what an import wrote (its undo must find the record it
# created, merged or not), and must not be moved
SKIP = {
    ("customers.importrow", "customer"),
    ("customers.mergerecord", "survivor"),
    ("customers.duplicatecandidate", "first"),
    ("customers.duplicatecandidate", "second"),
    ("customers.customer", "merged_into"),
    ("customers.mergerecord_merged", "customer"),
}
MERGEABLE_FIELDS = [*PROFILE_FIELDS, "owner"]
# Fields of Customer that a merge never takes from a merged record, and why (a test checks that every concrete
# field is in one list or the other, so a field added later is a decision, not an accident):
NOT_CHOSEN = {
    "id": "identity",
    "created_at": "the survivor's own",
    "updated_at": "set by the merge",
    "version": "set by the merge",
    "kind": "a person is not merged with an organization's identity by a field choice",
    "account": "a contact's organization is changed on its own page (merging may point it at the survivor)",
    "parent": "a branch's head office is changed on its own page (merging may point it at the survivor)",
    "merged_into": "set by the merge",
    "consent": "recomputed from the moved consent events",
    "custom": "chosen per custom field as custom.<key>",
    "name_key": "derived",
    "name_pinyin": "derived",
    "name_initials": "derived",
    "search_text": "derived",
    "search_restricted": "derived",
    "id_number_masked": "derived from the ID number, which is entered on the customer's own page",
    "id_number_hash": "derived from the ID number, which is entered on the customer's own page",
}
CUSTOM_PREFIX = "custom."
# values of the survivor that a merge may change and its undo puts back
RESTORED_FIELDS = [*MERGEABLE_FIELDS, "consent", "custom"]


def _customer_fks() -> list[tuple[type[models.Model], models.ForeignKey]]:
    """Every foreign key to Customer in every installed app, including the link tables of many-to-many
    relations (tags, and e.g. segment members that later apps add), except those that record merges."""
    result = []
    for model in apps.get_models(include_auto_created=True):
        for f in model._meta.concrete_fields:
            if isinstance(f, models.ForeignKey) and f.related_model is Customer:
                if (model._meta.label_lower, f.name) not in SKIP:
                    result.append((model, f))
    return result


def _unique_groups(model, field_name: str) -> list[list[str]]:
    """Field groups of unique constraints that include `field_name` (e.g. (customer, number))."""
    groups = []
    for c in model._meta.constraints:
        if isinstance(c, models.UniqueConstraint) and field_name in (c.fields or ()) and c.condition is None:
            groups.append(list(c.fields))
    for group in model._meta.unique_together:
        if field_name in group:
            groups.append(list(group))
    return groups


def _lock_all(customers: list[Customer], by) -> list[Customer]:
    locked = []
    for c in sorted(customers, key=lambda c: c.pk):  # a fixed order so that two merges never deadlock
        row, access = records.lock_for_write(c, by)
        if not access.can(Action.DELETE, Customer):
            raise PermissionDenied(_("Merging needs the change and delete rights on customers."))
        locked.append(row)
    return locked


def customer_merge(
    *,
    survivor: Customer,
    others: list[Customer],
    by,
    field_choices: dict | None = None,
    expected_versions: dict | None = None,
    note: str = "",
) -> MergeRecord:
    """Merge `others` into `survivor`. `field_choices` maps a field name to the id of the record whose value
    the survivor keeps. Records outside the user's scope answer 404 before anything is written; a record
    changed since the user looked at it (`expected_versions` {id: version}) is refused as stale. `note` is
    added to the audit entries (an automatic merge says so and with what probability)."""
    others = [o for o in others if o.pk != survivor.pk]
    if not others:
        raise ValidationError(_("Choose at least one other record to merge."))
    if len({o.pk for o in others}) != len(others):
        raise ValidationError(_("A record is listed twice."))
    field_choices = field_choices or {}
    with transaction.atomic():
        locked = {c.pk: c for c in _lock_all([survivor, *others], by)}
        for pk, version in (expected_versions or {}).items():
            if pk in locked and locked[pk].version != int(version):
                from kehu.core.exceptions import StaleRecordError

                raise StaleRecordError(
                    locked[pk], int(version), audit.changes_since("customers.customer", pk, int(version))
                )
        target = locked[survivor.pk]
        losers = [locked[o.pk] for o in others]
        # checked under the row locks, so two merges of the same records (A into B and B into A, even at the
        # same moment) cannot both pass: the second sees the first's result once it gets the locks
        for c in [target, *losers]:
            if c.merged_into_id:
                raise ConflictError(
                    _(
                        "%(name)s (#%(id)s) was already merged into another record (#%(into)s); "
                        "merge into that record instead, or undo that merge first."
                    )
                    % {"name": c.name, "id": c.pk, "into": c.merged_into_id}
                )
        merge = MergeRecord.objects.create(
            survivor=target,
            by=by,
            survivor_before=audit.snapshot(target) | {"_values": _values_of(target)},
        )
        merge.merged.set(losers)
        loser_ids = [o.pk for o in losers]
        moved: dict[str, dict[str, dict[str, list[int]]]] = {}
        for model, fk in _customer_fks():
            qs = model._default_manager.filter(**{f"{fk.name}__in": loser_ids})
            if model is Customer:
                qs = qs.exclude(pk=target.pk)
            for group in _unique_groups(model, fk.name):
                # a row whose unique values the survivor already has (the same phone on both records), or
                # that another merged record brings too, stays with its merged record: nothing is lost,
                # the survivor gets one copy, and undo has nothing to split
                others_in_group = [g for g in group if g != fk.name]
                taken = set(model._default_manager.filter(**{fk.name: target}).values_list(*others_in_group))
                keep = []
                for pk, *vals in qs.order_by("pk").values_list("pk", *others_in_group):
                    if tuple(vals) in taken:
                        keep.append(pk)
                    else:
                        taken.add(tuple(vals))
                if keep:
                    qs = qs.exclude(pk__in=keep)
            rows = list(qs.values_list("pk", fk.attname))
            if not rows:
                continue
            by_loser: dict[str, list[int]] = {}
            for pk, loser in rows:
                by_loser.setdefault(str(loser), []).append(pk)
            model._default_manager.filter(pk__in=[pk for pk, _loser in rows]).update(**{fk.name: target})
            moved.setdefault(model._meta.label_lower, {})[fk.name] = by_loser
        # many-to-many: tags (added to the survivor, remembered for undo)
        added_tags = set()
        for o in losers:
            added_tags |= set(o.tags.values_list("pk", flat=True))
        added_tags -= set(target.tags.values_list("pk", flat=True))
        target.tags.add(*added_tags)
        moved["_tags"] = {"added": {"_": sorted(added_tags)}}
        # record shares of the merged records now share the survivor
        shares = list(
            RecordShare.objects.filter(model="customers.customer", object_id__in=loser_ids).values_list(
                "pk", "object_id"
            )
        )
        RecordShare.objects.filter(pk__in=[s for s, _o in shares]).update(object_id=target.pk)
        moved["_shares"] = {"object_id": {str(o): [s for s, oo in shares if oo == o] for _s, o in shares}}
        # chosen field values
        changes = {}
        custom = dict(target.custom or {})
        hidden = records.Access.of(by).hidden_fields(Customer)
        for fname, source_id in field_choices.items():
            source = locked.get(int(source_id))
            if fname.startswith(CUSTOM_PREFIX):
                key = fname[len(CUSTOM_PREFIX) :]
                if source is None:
                    raise ValidationError(_("The chosen record is not part of this merge."))
                value = (source.custom or {}).get(key)
                if custom.get(key) != value:
                    changes[fname] = [audit.to_jsonable(custom.get(key)), audit.to_jsonable(value)]
                    if value is None:
                        custom.pop(key, None)
                    else:
                        custom[key] = value
                continue
            if fname not in MERGEABLE_FIELDS:
                raise ValidationError(_("%(f)s cannot be chosen in a merge.") % {"f": fname})
            if fname in hidden:
                # choosing between values one may not see would reveal them (and is blind besides)
                raise FieldNotWritable([fname])
            if source is None:
                raise ValidationError(_("The chosen record is not part of this merge."))
            value = _raw(source, fname)
            if _raw(target, fname) != value:
                changes[fname] = [audit.to_jsonable(_raw(target, fname)), audit.to_jsonable(value)]
                setattr(target, f"{fname}_id" if fname == "owner" else fname, value)
        target.custom = custom
        if "owner" in changes and not records.Access.of(by).can(Action.TRANSFER, Customer):
            raise PermissionDenied(_("Choosing another owner needs the transfer right."))
        target.consent = _current_consent(target)
        target.version += 1
        target.updated_at = timezone.now()
        target.full_clean(validate_unique=False, validate_constraints=False)
        target.save()
        refresh_search_keys(target)
        moved["_primary"] = _one_primary_per_kind(target, moved)
        Customer.objects.filter(pk__in=loser_ids).update(
            merged_into=target, version=F("version") + 1, updated_at=timezone.now()
        )
        DuplicateCandidate.objects.filter(
            models.Q(first_id__in=loser_ids, second=target)
            | models.Q(second_id__in=loser_ids, first=target)
            | models.Q(first_id__in=loser_ids, second_id__in=loser_ids)
        ).update(status=DuplicateCandidate.Status.MERGED)
        merge.moved = moved
        merge.save(update_fields=["moved"])
        audit.log(
            actor=by,
            action=AuditAction.MERGE,
            instance=target,
            changes={**changes, "merged": [None, [f"{o} (#{o.pk})" for o in losers]]},
            note=f"merge #{merge.pk}" + (f": {note}" if note else ""),
        )
        for o in losers:
            audit.log(
                actor=by,
                action=AuditAction.MERGE,
                instance=o,
                changes={"merged_into": [None, f"{target} (#{target.pk})"]},
                note=f"merge #{merge.pk}" + (f": {note}" if note else ""),
            )
    return merge


def customer_merge_undo(*, merge: MergeRecord, by) -> Customer:
    """Put every moved row back, restore the survivor's fields and un-hide the merged records.

    Locks the merge record, then the customers in ascending id order (as `customer_merge` does). Refused
    (ConflictError) while the survivor is merged into another record by a later merge that is not undone —
    that merge moved these rows on and must be undone first; the message names it."""
    with transaction.atomic():
        merge = MergeRecord.objects.select_for_update().get(pk=merge.pk)
        if merge.undone_at:
            raise ValidationError(_("This merge was already undone."))
        losers = list(merge.merged.all())
        locked = {c.pk: c for c in _lock_all([merge.survivor, *losers], by)}
        target = locked[merge.survivor_id]
        later = (
            MergeRecord.objects.filter(merged=target, undone_at__isnull=True, pk__gt=merge.pk)
            .order_by("-pk")
            .first()
        )
        if later is not None:
            raise ConflictError(
                _(
                    "%(name)s (#%(id)s) was merged into #%(into)s afterwards (merge #%(later)s); "
                    "undo that merge first."
                )
                % {"name": target.name, "id": target.pk, "into": later.survivor_id, "later": later.pk}
            )
        for o in losers:
            if locked[o.pk].merged_into_id != target.pk:
                raise ConflictError(
                    _("%(name)s (#%(id)s) is no longer merged into #%(into)s; this merge cannot be undone.")
                    % {"name": o.name, "id": o.pk, "into": target.pk}
                )
        for label, fields in (merge.moved or {}).items():
            if label.startswith("_"):
                continue
            model = apps.get_model(label)
            for fname, by_loser in fields.items():
                for loser_id, pks in by_loser.items():
                    model._default_manager.filter(pk__in=pks).update(**{f"{fname}_id": int(loser_id)})
        target.tags.remove(*((merge.moved or {}).get("_tags", {}).get("added", {}).get("_", [])))
        for loser_id, share_ids in (merge.moved or {}).get("_shares", {}).get("object_id", {}).items():
            RecordShare.objects.filter(pk__in=share_ids).update(object_id=int(loser_id))
        for label, flags in (merge.moved or {}).get("_primary", {}).items():
            model = apps.get_model(label)
            for flag, pks in flags.items():
                model._default_manager.filter(pk__in=pks).update(is_primary=flag == "true")
        _restore_values(target, (merge.survivor_before or {}).get("_values", {}))
        target.version += 1
        target.updated_at = timezone.now()
        target.save()
        refresh_search_keys(target)
        ids = [o.pk for o in losers]
        Customer.objects.filter(pk__in=ids).update(
            merged_into=None, version=F("version") + 1, updated_at=timezone.now()
        )
        for o in losers:
            refresh_search_keys(Customer.objects.get(pk=o.pk))
        DuplicateCandidate.objects.filter(status=DuplicateCandidate.Status.MERGED).filter(
            models.Q(first_id__in=ids) | models.Q(second_id__in=ids)
        ).update(status=DuplicateCandidate.Status.OPEN)
        merge.undone_at = timezone.now()
        merge.save(update_fields=["undone_at"])
        audit.log(
            actor=by,
            action=AuditAction.UNMERGE,
            instance=target,
            changes={"merged": [[f"{o} (#{o.pk})" for o in losers], None]},
            note=f"merge #{merge.pk}",
        )
        for o in losers:
            audit.log(
                actor=by,
                action=AuditAction.UNMERGE,
                instance=o,
                changes={"merged_into": [str(target), None]},
                note=f"merge #{merge.pk}",
            )
    return target


def _values_of(customer: Customer) -> dict:
    """The survivor's values a merge may change, in their exact JSON form (kehu.core.fieldvalues)."""
    values = {}
    for fname in RESTORED_FIELDS:
        field = Customer._meta.get_field(fname)
        values[fname] = to_json(field, getattr(customer, field.attname))
    return values


def _restore_values(customer: Customer, values: dict) -> None:
    for fname, data in values.items():
        field = Customer._meta.get_field(fname)
        setattr(customer, field.attname, from_json(field, data))


def _one_primary_per_kind(target: Customer, moved: dict) -> dict:
    """After rows moved in, the survivor may hold several primary phones (emails, addresses…): keep one per
    contact-point model — the one its phone/email column names, else the survivor's own, else the first
    moved in. Returns {model label: {"true"/"false": [ids]}} — the flags to write back on undo."""
    restore: dict[str, dict[str, list[int]]] = {}
    mirror = {"number": target.phone, "email": target.email}
    for model, fk in _customer_fks():
        names = {f.name for f in model._meta.concrete_fields}
        if "is_primary" not in names or model is Customer:
            continue
        primaries = list(
            model._default_manager.filter(**{fk.name: target, "is_primary": True})
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        keep = None
        for column, value in mirror.items():
            if column in names and value:
                keep = (
                    model._default_manager.filter(**{fk.name: target, column: value})
                    .values_list("pk", flat=True)
                    .first()
                )
        moved_in = {
            pk for pks in moved.get(model._meta.label_lower, {}).get(fk.name, {}).values() for pk in pks
        }
        own = [pk for pk in primaries if pk not in moved_in]
        if keep is None and primaries:
            keep = (own or primaries)[0]
        if keep is None:
            continue
        cleared = [pk for pk in primaries if pk != keep]
        flags = {}
        if cleared:
            model._default_manager.filter(pk__in=cleared).update(is_primary=False)
            flags["true"] = cleared
        if keep not in primaries:
            model._default_manager.filter(pk=keep).update(is_primary=True)
            flags["false"] = [keep]
        if flags:
            restore[model._meta.label_lower] = flags
    return restore


def _raw(customer: Customer, fname: str):
    return getattr(customer, "owner_id" if fname == "owner" else fname)


def _current_consent(customer: Customer) -> dict:
    """Current consent per channel = the latest event per channel (after the merge moved the events)."""
    result = {}
    for e in ConsentEvent.objects.filter(customer=customer).order_by("at", "id"):
        result[e.channel] = {"status": e.status, "at": e.at.isoformat(), "method": e.method}
    return result
