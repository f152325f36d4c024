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
from kehu.core.exceptions import FieldNotWritable
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
) -> MergeRecord:
    """Merge `others` into `survivor`. `field_choices` maps a field name to the id of the record whose value
    the survivor keeps. Records outside the user's scope answer 404 before anything is written; a record
    changed since the user looked at it (`expected_versions` {id: version}) is refused as stale."""
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
        for o in losers:
            if o.merged_into_id:
                raise ValidationError(_("%(name)s was already merged into another record.") % {"name": o})
        merge = MergeRecord.objects.create(
            survivor=target,
            by=by,
            survivor_before=audit.snapshot(target)
            | {"_values": {f: _raw(target, f) for f in [*MERGEABLE_FIELDS, "consent"]}},
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
        hidden = records.Access.of(by).hidden_fields(Customer)
        for fname, source_id in field_choices.items():
            if fname not in MERGEABLE_FIELDS:
                raise ValidationError(_("%(f)s cannot be chosen in a merge.") % {"f": fname})
            if fname in hidden:
                # choosing between values one may not see would reveal them (and is blind besides)
                raise FieldNotWritable([fname])
            source = locked.get(int(source_id))
            if source is None:
                raise ValidationError(_("The chosen record is not part of this merge."))
            value = _raw(source, fname)
            if _raw(target, fname) != value:
                changes[fname] = [_raw(target, fname), value]
                setattr(target, f"{fname}_id" if fname == "owner" else fname, value)
        if "owner" in changes and not records.Access.of(by).can(Action.TRANSFER, Customer):
            raise PermissionDenied(_("Choosing another owner needs the transfer right."))
        target.consent = _current_consent(target)
        target.version += 1
        target.updated_at = timezone.now()
        target.full_clean(validate_unique=False, validate_constraints=False)
        target.save()
        refresh_search_keys(target)
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
            note=f"merge #{merge.pk}",
        )
        for o in losers:
            audit.log(
                actor=by,
                action=AuditAction.MERGE,
                instance=o,
                changes={"merged_into": [None, f"{target} (#{target.pk})"]},
                note=f"merge #{merge.pk}",
            )
    return merge


def customer_merge_undo(*, merge: MergeRecord, by) -> Customer:
    """Put every moved row back, restore the survivor's fields and un-hide the merged records."""
    with transaction.atomic():
        merge = MergeRecord.objects.select_for_update().get(pk=merge.pk)
        if merge.undone_at:
            raise ValidationError(_("This merge was already undone."))
        losers = list(merge.merged.all())
        locked = {c.pk: c for c in _lock_all([merge.survivor, *losers], by)}
        target = locked[merge.survivor_id]
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
        values = (merge.survivor_before or {}).get("_values", {})
        for fname, value in values.items():
            setattr(target, f"{fname}_id" if fname == "owner" else fname, value)
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


def _raw(customer: Customer, fname: str):
    return getattr(customer, "owner_id" if fname == "owner" else fname)


def _current_consent(customer: Customer) -> dict:
    """Current consent per channel = the latest event per channel (after the merge moved the events)."""
    result = {}
    for e in ConsentEvent.objects.filter(customer=customer).order_by("at", "id"):
        result[e.channel] = {"status": e.status, "at": e.at.isoformat(), "method": e.method}
    return result
