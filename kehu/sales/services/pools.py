"""Public pools (公海) and private pools (私海): claim, release, assign, and the recycle rules.

Rights: seeing a pool needs `view` on pools and membership of the pool's department subtree (a pool without a
department is open to all; administrators of pools see every pool); claiming needs `change` on pool entries;
releasing needs write scope on the customer (its owner, or a manager over the owner); assigning from a pool
needs the `transfer` right on customers. Owner changes go through `records.record_owner_set` /
`records_owner_clear`: the customer row is locked, its version bumped and the move audited as a TRANSFER, and
the record scope follows the new owner at once. Every move is a `PoolEvent` and an event on the timeline.

Races: a claim locks the claiming user's row (so their limit counts are serialised), then the customer row;
the customer is taken with a conditional UPDATE (`owner IS NULL`), so of two simultaneous claims exactly one
wins, on PostgreSQL (row lock) and SQLite (one writer).

Recycling (`pools_recycle`) finds its candidates with set-based SQL (NOT EXISTS over the indexed
interactions, opportunities, orders and pool events of each customer; no per-customer query), warns owners
first (one notification per owner and rule, one `warned` event per customer) and returns a customer to the
rule's pool only when it was warned at least `warn_days` before."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import cast

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Exists, Max, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kehu.core import audit, bulk, records
from kehu.core.access import Access, department_subtree_ids
from kehu.core.exceptions import StaleRecordError
from kehu.core.models import Action, User
from kehu.core.services import notify
from kehu.customers.models import Customer, Kind
from kehu.interactions.models import Interaction, InteractionChannel
from kehu.interactions.services import _user_zone, timeline_event_record

from ..models import (
    ClaimLimit,
    CustomerPool,
    Opportunity,
    OpportunityStatus,
    Order,
    OrderKind,
    OrderStatus,
    PoolEntry,
    PoolEvent,
    PoolEventKind,
    RecycleRule,
)

BATCH = 5000
HOLD_KINDS = [PoolEventKind.CLAIMED, PoolEventKind.ASSIGNED]


class ClaimRefused(ValidationError):
    """A claim the pool rules refuse (limit, cooldown, already taken); the message says why."""


# ------------------------------------------------------------------------------------------------ reads
def is_pool_admin(user) -> bool:
    access = Access.of(user)
    return access.is_superuser or access.can(Action.CHANGE, CustomerPool)


def pool_open_to(pool: CustomerPool, user) -> bool:
    """May `user` see and claim from `pool`: a pool without a department is open to everybody with the
    rights; else the user must belong to the department's subtree."""
    if is_pool_admin(user):
        return True
    if not pool.active:
        return False
    if pool.department_id is None:
        return True
    return user.department_id is not None and user.department_id in department_subtree_ids(pool.department_id)


def pools_for(*, user) -> list[CustomerPool]:
    """The pools `user` may see, with the number of customers in each."""
    access = Access.of(user)
    if not access.can(Action.VIEW, CustomerPool):
        return []
    from django.db.models import Count

    qs = CustomerPool.objects.select_related("department", "product_line").annotate(size=Count("entries"))
    if not is_pool_admin(user):
        qs = qs.filter(active=True)
    return [p for p in qs.order_by("name") if pool_open_to(p, user)]


def pool_get(*, user, pk) -> CustomerPool:
    from django.http import Http404

    pool = CustomerPool.objects.select_related("department", "product_line").filter(pk=pk).first()
    if pool is None or not Access.of(user).can(Action.VIEW, CustomerPool) or not pool_open_to(pool, user):
        raise Http404
    return pool


def hidden_customer_fields(*, pool: CustomerPool, user) -> set[str]:
    """Customer fields a pool page or the pool API must not show to `user`: the user's hidden fields, plus
    phone and email while the pool hides contact details."""
    hidden = set(Access.of(user).hidden_fields(Customer))
    if pool.hide_contact_details:
        hidden |= {"phone", "email", "contact_person"}
    return hidden


def pool_entries(*, pool: CustomerPool, user) -> QuerySet[PoolEntry]:
    """The customers in a pool (newest first) with who held them before."""
    pool_get(user=user, pk=pool.pk)
    return (
        PoolEntry.objects.filter(pool=pool)
        .select_related("customer", "previous_owner")
        .order_by("-entered_at", "-id")
    )


def mask_hidden_entry_fields(*, entries, history: dict[int, list[PoolEvent]], user) -> None:
    """Blank, in memory, what the reader may not see of pool entries: a hidden `reason` also hides the reasons
    in the entries' history (the same words), a hidden `previous_owner` who held it (ADR 0009)."""
    hidden = Access.of(user).hidden_fields(PoolEntry)
    for entry in entries:
        if "reason" in hidden:
            entry.reason = ""
        if "previous_owner" in hidden:
            entry.previous_owner = None
    for events in history.values():
        for event in events:
            if "reason" in hidden:
                event.reason = ""
            if "previous_owner" in hidden:
                event.from_owner = None


def pool_history(*, customer_ids: list[int], limit: int = 5) -> dict[int, list[PoolEvent]]:
    """The last pool events of each customer (who held it, why it returned), one query."""
    result: dict[int, list[PoolEvent]] = defaultdict(list)
    events = (
        PoolEvent.objects.filter(customer_id__in=customer_ids)
        .exclude(kind=PoolEventKind.WARNED)
        .select_related("from_owner", "to_owner", "by", "rule", "pool")
        .order_by("customer_id", "-at", "-id")
    )
    for event in events:
        if len(result[event.customer_id]) < limit:
            result[event.customer_id].append(event)
    return result


def claim_limit_of(user) -> tuple[int, int] | None:
    """(max customers, claims per day): the largest over the user's roles; None = no limit."""
    rows = list(
        ClaimLimit.objects.filter(role__in=user.roles.all()).values_list(
            "max_customers", "max_claims_per_day"
        )
    )
    if not rows:
        return None
    return max(r[0] for r in rows), max(r[1] for r in rows)


def default_pool_for(user) -> CustomerPool | None:
    """The pool a customer released by `user` goes to: the pool of the nearest department above the user,
    else a pool open to all."""
    pools = [p for p in CustomerPool.objects.filter(active=True) if pool_open_to(p, user)]
    with_dept = [p for p in pools if p.department_id is not None]
    if with_dept and user.department_id:
        return min(with_dept, key=lambda p: len(department_subtree_ids(p.department_id or 0)))
    return next((p for p in pools if p.department_id is None), pools[0] if pools else None)


# ------------------------------------------------------------------------------------------------ events
def _timeline(event: PoolEvent, customer: Customer) -> None:
    subjects = {
        PoolEventKind.CLAIMED: _("Claimed from the pool %(pool)s by %(user)s"),
        PoolEventKind.ASSIGNED: _("Assigned from the pool %(pool)s to %(user)s"),
        PoolEventKind.RELEASED: _("Released to the pool %(pool)s by %(user)s"),
        PoolEventKind.RECYCLED: _("Returned to the pool %(pool)s by the rule %(rule)s"),
    }
    subject = subjects[PoolEventKind(event.kind)] % {
        "pool": event.pool,
        "user": event.to_owner or event.from_owner,
        "rule": event.rule,
    }
    timeline_event_record(
        customer=customer,
        subject=subject,
        body=event.reason,
        related_model=f"sales.pool.{event.kind}",
        related_id=event.pk,
        occurred_at=event.at,
        user=event.by,
    )


# ------------------------------------------------------------------------------------------------ writes
def _check_version(locked: Customer, expected_version: int | None) -> None:
    """Optimistic locking as the record service does it (an API caller's If-Match)."""
    if expected_version is not None and locked.version != expected_version:
        raise StaleRecordError(
            locked, expected_version, audit.changes_since("customers.customer", locked.pk, expected_version)
        )


def _contacts_follow(org: Customer, *, previous_owner_id: int | None, to: User | None, by, note: str) -> int:
    """An organisation's contact persons follow its owner change: those held by its previous owner (nobody,
    for a pool customer) get the new owner through the record service (row lock, version bumped, TRANSFER
    audit on each contact), in the caller's transaction. Contacts someone else holds stay theirs. Returns how
    many moved."""
    contacts = Customer.objects.filter(
        account_id=org.pk, kind=Kind.PERSON, merged_into__isnull=True, owner_id=previous_owner_id
    ).order_by("pk")
    moved = 0
    for contact in contacts:
        records.record_owner_set(instance=contact, owner=to, by=by, note=note)
        moved += 1
    return moved


def pool_claim(
    *,
    customer: Customer,
    by: User,
    pool: CustomerPool | None = None,
    now: dt.datetime | None = None,
    expected_version: int | None = None,
) -> Customer:
    """`by` claims a customer from a pool: needs the claim right and a pool open to them; refused when the
    customer was taken meanwhile, when `by` released or lost it less than the pool's cooldown ago, or above
    the claim limit of their roles (customers held, claims today). The customer leaves every pool."""
    now = now or timezone.now()
    if not Access.of(by).can(Action.CHANGE, PoolEntry):
        raise PermissionDenied(_("You do not have the right to claim customers from a pool."))
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=by.pk).values_list("pk", flat=True).first()
        locked = Customer.objects.select_for_update().get(pk=customer.pk)
        _check_version(locked, expected_version)
        if locked.owner_id is not None:
            raise ClaimRefused(_("%(customer)s has already been claimed.") % {"customer": locked})
        entries = list(PoolEntry.objects.filter(customer=locked).select_related("pool"))
        if pool is not None:
            entries = [e for e in entries if e.pool_id == pool.pk]
        entries = [e for e in entries if pool_open_to(e.pool, by)]
        if not entries:
            raise ClaimRefused(_("%(customer)s is not in a pool open to you.") % {"customer": locked})
        entry = entries[0]
        cooldown = entry.pool.reclaim_cooldown_days
        if cooldown:
            lost = PoolEvent.objects.filter(
                customer=locked,
                from_owner=by,
                kind__in=[PoolEventKind.RELEASED, PoolEventKind.RECYCLED],
                at__gt=now - dt.timedelta(days=cooldown),
            ).aggregate(m=Max("at"))["m"]
            if lost is not None:
                until = timezone.localtime(lost + dt.timedelta(days=cooldown), _user_zone(by))
                raise ClaimRefused(
                    _("You gave up %(customer)s recently; you may claim it again from %(until)s.")
                    % {"customer": locked, "until": until.strftime("%Y-%m-%d %H:%M")}
                )
        limit = claim_limit_of(by)
        if limit is not None:
            # contact persons follow their organisation and do not count on their own
            held = Customer.objects.filter(owner=by, merged_into__isnull=True, account__isnull=True).count()
            if held >= limit[0]:
                raise ClaimRefused(
                    _("You already hold %(n)d customers, the most your role allows.") % {"n": held}
                )
            day_start = timezone.localtime(now, _user_zone(by)).replace(
                hour=0, minute=0, second=0, microsecond=0
            )
            today = PoolEvent.objects.filter(
                to_owner=by, kind=PoolEventKind.CLAIMED, at__gte=day_start
            ).count()
            if today >= limit[1]:
                raise ClaimRefused(
                    _("You have claimed %(n)d customers today, the most your role allows per day.")
                    % {"n": today}
                )
        return _take(locked, entry=entry, to=by, by=by, kind=PoolEventKind.CLAIMED, now=now)


def _take(
    locked: Customer, *, entry: PoolEntry, to: User, by: User, kind: str, now: dt.datetime, reason: str = ""
) -> Customer:
    # conditional: a second claimant that got here anyway (no row locks on SQLite) changes nothing
    if not Customer.objects.filter(pk=locked.pk, owner__isnull=True).exists():
        raise ClaimRefused(_("%(customer)s has already been claimed.") % {"customer": locked})
    note = _("from the pool %(pool)s") % {"pool": entry.pool}
    records.record_owner_set(instance=locked, owner=to, by=by, note=note)
    _contacts_follow(locked, previous_owner_id=None, to=to, by=by, note=note)
    PoolEntry.objects.filter(customer=locked).delete()
    event = PoolEvent.objects.create(
        customer=locked, pool=entry.pool, kind=kind, at=now, to_owner=to, by=by, reason=reason[:300]
    )
    _timeline(event, locked)
    return locked


def pool_assign(
    *,
    customer: Customer,
    to_user: User,
    by: User,
    reason: str = "",
    now: dt.datetime | None = None,
    expected_version: int | None = None,
) -> Customer:
    """An administrator gives a pool customer to `to_user` (needs the transfer right on customers; claim
    limits and cooldowns are the administrator's call and do not apply)."""
    now = now or timezone.now()
    access = Access.of(by)
    if not access.can(Action.TRANSFER, Customer):
        raise PermissionDenied(_("You do not have the right to assign customers."))
    if not to_user.is_active:
        raise ValidationError({"to_user": _("The receiving user is inactive.")})
    with transaction.atomic():
        locked = Customer.objects.select_for_update().get(pk=customer.pk)
        _check_version(locked, expected_version)
        if locked.owner_id is not None:
            raise ClaimRefused(_("%(customer)s has already been claimed.") % {"customer": locked})
        entry = PoolEntry.objects.filter(customer=locked).select_related("pool").first()
        if entry is None or not pool_open_to(entry.pool, by):
            raise ClaimRefused(_("%(customer)s is not in a pool open to you.") % {"customer": locked})
        return _take(
            locked, entry=entry, to=to_user, by=by, kind=PoolEventKind.ASSIGNED, now=now, reason=reason
        )


def pool_release(
    *,
    customer: Customer,
    by: User,
    reason: str,
    pool: CustomerPool | None = None,
    now: dt.datetime | None = None,
    expected_version: int | None = None,
) -> PoolEntry:
    """Return a customer to a pool with a reason: by its owner (or whoever may write it). The pool defaults to
    the one of the owner's department."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the customer goes back to the pool.")})
    with transaction.atomic():
        locked, _access = records.lock_for_write(customer, by)
        _check_version(locked, expected_version)
        owner = locked.owner
        if owner is None:
            raise ValidationError(_("%(customer)s has no owner.") % {"customer": locked})
        pool = pool or default_pool_for(owner)
        if pool is None or not pool.active:
            raise ValidationError({"pool": _("There is no pool to release the customer to.")})
        if not pool_open_to(pool, by):
            raise PermissionDenied(_("That pool is not open to you."))
        records.record_owner_set(instance=locked, owner=None, by=by, note=reason)
        _contacts_follow(locked, previous_owner_id=owner.pk, to=None, by=by, note=reason)
        entry = PoolEntry.objects.create(
            pool=pool, customer=locked, entered_at=now, previous_owner=owner, reason=reason[:300]
        )
        event = PoolEvent.objects.create(
            customer=locked,
            pool=pool,
            kind=PoolEventKind.RELEASED,
            at=now,
            from_owner=owner,
            by=by,
            reason=reason[:300],
        )
        _timeline(event, locked)
    customer.owner = None
    return entry


def pool_place(
    *, customers: list[Customer], pool: CustomerPool, reason: str = "", now: dt.datetime | None = None
) -> int:
    """Put customers without an owner into a pool (demo data, imports of unowned customers)."""
    now = now or timezone.now()
    rows = [
        PoolEntry(pool=pool, customer=c, entered_at=now, reason=reason[:300])
        for c in customers
        if c.owner_id is None
    ]
    PoolEntry.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


# ------------------------------------------------------------------------------------------------ recycling
def _stale_followup(cutoff: dt.datetime) -> Q:
    """No interaction (system events do not count) and no claim since `cutoff`, and older than it. An
    organisation's interactions are read on its rolled-up timeline (`account`): a call to one of its contact
    persons is a follow-up of the organisation."""
    touched = Interaction.objects.filter(account=OuterRef("pk"), occurred_at__gte=cutoff).exclude(
        channel=InteractionChannel.EVENT
    )
    held = PoolEvent.objects.filter(customer=OuterRef("pk"), kind__in=HOLD_KINDS, at__gte=cutoff)
    return cast(Q, Q(created_at__lt=cutoff) & ~Exists(touched) & ~Exists(held))


def _stale_deal(cutoff: dt.datetime) -> Q:
    """No won deal, no order (sales, not cancelled) and no claim since `cutoff`, and older than it."""
    won = Opportunity.objects.filter(
        customer=OuterRef("pk"), status=OpportunityStatus.WON, closed_at__gte=cutoff
    )
    ordered = Order.objects.filter(
        customer=OuterRef("pk"), kind=OrderKind.SALE, order_date__gte=timezone.localdate(cutoff)
    ).exclude(status=OrderStatus.CANCELLED)
    held = PoolEvent.objects.filter(customer=OuterRef("pk"), kind__in=HOLD_KINDS, at__gte=cutoff)
    return cast(Q, Q(created_at__lt=cutoff) & ~Exists(won) & ~Exists(ordered) & ~Exists(held))


def _stale_rows(
    rule: RecycleRule, now: dt.datetime, *fields: str, ahead: int = 0, where=None, annotate=None
) -> list[tuple]:
    """Rows (`fields`, the pk first) of the rule's customers due `ahead` days from `now`: the union of one
    query per condition. Each query has its NOT EXISTS at the top level of the WHERE, so PostgreSQL plans them
    as hash anti-joins over the recent interactions/deals instead of probing indexes once per customer (an OR
    of the two conditions would force the probes: 3× slower at 1M customers)."""
    rows: dict[int, tuple] = {}
    for days, condition in ((rule.no_followup_days, _stale_followup), (rule.no_deal_days, _stale_deal)):
        if not days:
            continue
        qs = _owned(rule).filter(condition(now - dt.timedelta(days=days - ahead)))
        if where is not None:
            qs = qs.filter(where)
        if annotate:
            qs = qs.annotate(**annotate)
        for row in qs.values_list(*fields):
            rows[row[0]] = row
    return list(rows.values())


def _owned(rule: RecycleRule) -> QuerySet[Customer]:
    # contact persons of an organisation are not recycled on their own: they go with their organisation
    qs = Customer.objects.filter(owner__isnull=False, merged_into__isnull=True, account__isnull=True)
    if rule.department_id:
        members = User.objects.filter(department_id__in=department_subtree_ids(rule.department_id))
        qs = qs.filter(owner_id__in=members.values("pk"))
    if rule.exclude_lifecycle:
        qs = qs.exclude(lifecycle_stage=rule.exclude_lifecycle)
    return qs


def _reason(rule: RecycleRule) -> str:
    parts = []
    if rule.no_followup_days:
        parts.append(_("no follow-up for %(n)d days") % {"n": rule.no_followup_days})
    if rule.no_deal_days:
        parts.append(_("no deal for %(n)d days") % {"n": rule.no_deal_days})
    return "; ".join(parts)


NAMED = 5  # customers named in a warning or recycling notification


def _notify_owner(owner: User, *, title: str, body: str, key: str, url: str = "") -> None:
    notify(user=owner, title=str(title), body=str(body), url=url or reverse("sales:pools"), dedup_key=key)


def _named(owner_pks: dict[int, list[int]]) -> dict[int, tuple[str, str]]:
    """Per owner: the first NAMED customers' names ("A, B and 3 more") and, when there is a single customer,
    the link to its page — a rep told that customers will return to the pool must learn which ones."""
    first = {pk for pks in owner_pks.values() for pk in pks[:NAMED]}
    names = dict(Customer.objects.filter(pk__in=first).values_list("pk", "name"))
    out = {}
    for owner_id, pks in owner_pks.items():
        shown = ", ".join(names.get(pk, "") for pk in pks[:NAMED])
        if len(pks) > NAMED:
            shown = _("%(names)s and %(n)d more") % {"names": shown, "n": len(pks) - NAMED}
        url = reverse("customers:detail", args=[pks[0]]) if len(pks) == 1 else ""
        out[owner_id] = (shown, url)
    return out


def _owner_locale(owner: User):
    return translation.override(owner.language or settings.LANGUAGE_CODE)


def _recycle_reason(rule: RecycleRule, now: dt.datetime, ids: list[int]) -> dict[int, str]:
    """Which condition each recycled customer met (two set-based queries over the batch)."""
    reasons: dict[int, list[str]] = defaultdict(list)
    base = Customer.objects.filter(pk__in=ids)
    if rule.no_followup_days:
        cutoff = now - dt.timedelta(days=rule.no_followup_days)
        for pk in base.filter(_stale_followup(cutoff)).values_list("pk", flat=True):
            reasons[pk].append(_("no follow-up for %(n)d days") % {"n": rule.no_followup_days})
    if rule.no_deal_days:
        cutoff = now - dt.timedelta(days=rule.no_deal_days)
        for pk in base.filter(_stale_deal(cutoff)).values_list("pk", flat=True):
            reasons[pk].append(_("no deal for %(n)d days") % {"n": rule.no_deal_days})
    return {pk: "; ".join(r) for pk, r in reasons.items()}


def rule_warn(*, rule: RecycleRule, now: dt.datetime) -> int:
    """Warn owners of customers that the rule will recycle within `warn_days`: one `warned` event per
    customer and stale period (a warning after the customer's last touch is not repeated), one notification
    per owner."""
    ahead = rule.warn_days
    if not ahead:
        return 0
    warned_since = PoolEvent.objects.filter(
        customer=OuterRef("pk"), rule=rule, kind=PoolEventKind.WARNED,
        at__gte=now - dt.timedelta(days=max(rule.no_followup_days or 0, rule.no_deal_days or 0)),
    )  # fmt: skip
    candidates = _stale_rows(
        rule, now, "pk", "owner_id", "was_warned", ahead=ahead, annotate={"was_warned": Exists(warned_since)}
    )
    fresh = [(pk, owner_id) for pk, owner_id, was in candidates if not was]
    # customers warned in an earlier stale period and touched since get warned again
    repeat = [pk for pk, _o, was in candidates if was]
    if repeat:
        fresh += _touched_after_warning(rule, now, repeat)
    total = 0
    by_owner: dict[int, list[int]] = defaultdict(list)
    for i in range(0, len(fresh), BATCH):
        chunk = fresh[i : i + BATCH]
        PoolEvent.objects.bulk_create(
            [
                PoolEvent(
                    customer_id=pk,
                    pool=rule.pool,
                    kind=PoolEventKind.WARNED,
                    at=now,
                    from_owner_id=owner_id,
                    rule=rule,
                    reason=_reason(rule),
                )
                for pk, owner_id in chunk
            ],
            batch_size=1000,
        )
        for pk, owner_id in chunk:
            by_owner[owner_id].append(pk)
        total += len(chunk)
    named = _named(by_owner)
    for owner in User.objects.filter(pk__in=list(by_owner), is_active=True):
        with _owner_locale(owner):
            _notify_owner(
                owner,
                title=_("%(n)d of your customers will return to the pool %(pool)s in %(days)d days")
                % {"n": len(by_owner[owner.pk]), "pool": rule.pool, "days": rule.warn_days},
                body=_("Reason: %(reason)s. Follow them up to keep them: %(customers)s.")
                % {"reason": _reason(rule), "customers": named[owner.pk][0]},
                key=f"pool-warn:{rule.pk}:{owner.pk}:{timezone.localdate(now).isoformat()}",
                url=named[owner.pk][1],
            )
    return total


def _touched_after_warning(rule: RecycleRule, now: dt.datetime, ids: list[int]) -> list[tuple[int, int]]:
    """Of customers with a warning in the lookback window, those touched after their last warning (a new
    stale period): grouped queries over the batch."""
    result = []
    for i in range(0, len(ids), BATCH):
        chunk = ids[i : i + BATCH]
        last_warn = dict(
            PoolEvent.objects.filter(customer_id__in=chunk, rule=rule, kind=PoolEventKind.WARNED)
            .values_list("customer_id")
            .annotate(m=Max("at"))
        )
        touched: dict[int, dt.datetime] = {}
        sources = [
            Interaction.objects.filter(account_id__in=chunk)
            .exclude(channel=InteractionChannel.EVENT)
            .values_list("account_id")
            .annotate(m=Max("occurred_at")),
            PoolEvent.objects.filter(customer_id__in=chunk, kind__in=HOLD_KINDS)
            .values_list("customer_id")
            .annotate(m=Max("at")),
        ]
        for source in sources:
            for pk, at in source:
                if at and (pk not in touched or at > touched[pk]):
                    touched[pk] = at
        owners = dict(Customer.objects.filter(pk__in=chunk).values_list("pk", "owner_id"))
        result += [(pk, owners[pk]) for pk in chunk if pk in touched and touched[pk] > last_warn.get(pk, now)]
    return result


def rule_recycle(*, rule: RecycleRule, now: dt.datetime) -> int:
    """Return to the rule's pool the customers it matches whose owner was warned at least `warn_days` ago
    in this stale period; owner cleared (audited TRANSFER), pool entry, `recycled` event with the reason,
    timeline event, one notification per owner."""
    where = None
    if rule.warn_days:
        longest = max(rule.no_followup_days or 0, rule.no_deal_days or 0)
        where = Exists(
            PoolEvent.objects.filter(
                customer=OuterRef("pk"), rule=rule, kind=PoolEventKind.WARNED,
                at__gte=now - dt.timedelta(days=longest), at__lte=now - dt.timedelta(days=rule.warn_days),
            )
        )  # fmt: skip
    rows = sorted(_stale_rows(rule, now, "pk", "owner_id", "name", where=where))
    by_owner: dict[int, list[int]] = defaultdict(list)
    total = 0
    for i in range(0, len(rows), BATCH):
        chunk = rows[i : i + BATCH]
        with transaction.atomic():
            reasons = _recycle_reason(rule, now, [r[0] for r in chunk])
            done = set(
                records.records_owner_clear(
                    model=Customer, rows=chunk, by=None, note=_("recycle rule %(rule)s") % {"rule": rule}
                )
            )
            kept = [r for r in chunk if r[0] in done]
            _contacts_follow_recycled(kept, rule)
            # a stale entry of the same pool (an owner set by hand while in the pool) is replaced
            PoolEntry.objects.filter(pool=rule.pool, customer_id__in=[r[0] for r in kept]).delete()
            reason_of = {pk: reasons.get(pk, _reason(rule))[:300] for pk, _o, _n in kept}
            _insert(
                PoolEntry,
                ["pool", "customer", "entered_at", "previous_owner", "reason"],
                [(rule.pool_id, pk, now, owner_id, reason_of[pk]) for pk, owner_id, _n in kept],
            )
            _insert(
                PoolEvent,
                ["customer", "pool", "kind", "at", "from_owner", "to_owner", "by", "rule", "reason"],
                [
                    (
                        pk,
                        rule.pool_id,
                        PoolEventKind.RECYCLED.value,
                        now,
                        owner_id,
                        None,
                        None,
                        rule.pk,
                        reason_of[pk],
                    )
                    for pk, owner_id, _n in kept
                ],
            )
            _timeline_bulk([(pk, reason_of[pk]) for pk, _o, _n in kept], rule, now)
        for pk, owner_id, _n in kept:
            by_owner[owner_id].append(pk)
        total += len(kept)
    named = _named(by_owner)
    for owner in User.objects.filter(pk__in=list(by_owner), is_active=True):
        with _owner_locale(owner):
            _notify_owner(
                owner,
                title=_("%(n)d of your customers returned to the pool %(pool)s")
                % {"n": len(by_owner[owner.pk]), "pool": rule.pool},
                body=_("Reason: %(reason)s. Returned: %(customers)s.")
                % {"reason": _reason(rule), "customers": named[owner.pk][0]},
                key=f"pool-recycled:{rule.pk}:{owner.pk}:{timezone.localdate(now).isoformat()}",
                url=reverse("sales:pool", args=[rule.pool_id]),
            )
    return total


def _contacts_follow_recycled(kept: list[tuple], rule: RecycleRule) -> int:
    """The contact persons of the recycled organisations that their previous owner held lose that owner too,
    set-based like the organisations (`records_owner_clear`: locked, version bumped, one TRANSFER audit entry
    each), in the batch's transaction."""
    owner_of = {pk: owner_id for pk, owner_id, _n in kept}
    if not owner_of:
        return 0
    rows = [
        (pk, owner_id, name)
        for pk, owner_id, name, account_id in Customer.objects.filter(
            account_id__in=list(owner_of), kind=Kind.PERSON, merged_into__isnull=True, owner__isnull=False
        ).values_list("pk", "owner_id", "name", "account_id")
        if owner_of.get(account_id) == owner_id
    ]
    if not rows:
        return 0
    note = _("recycle rule %(rule)s") % {"rule": rule}
    return len(records.records_owner_clear(model=Customer, rows=rows, by=None, note=note))


def _insert(model, fields: list[str], rows: list[tuple]) -> None:
    """Batch INSERT: COPY on PostgreSQL (several times faster than INSERT … VALUES for thousands of rows),
    bulk_create elsewhere."""
    if not rows:
        return
    if connection.vendor == "postgresql":
        bulk.insert_rows(model, fields, rows)
        return
    model._default_manager.bulk_create(
        [
            model(
                **{
                    f"{f}_id" if model._meta.get_field(f).is_relation else f: v
                    for f, v in zip(fields, row, strict=True)
                }
            )
            for row in rows
        ],
        batch_size=1000,
    )


def _timeline_bulk(rows: list[tuple[int, str]], rule: RecycleRule, now: dt.datetime) -> None:
    """Timeline entries of recycled customers in one INSERT (the account column is the customer's account or
    itself, as Interaction.save computes it). Keyed per rule, customer and instant (idempotent like
    `timeline_event_record`)."""
    if not rows:
        return
    accounts = dict(Customer.objects.filter(pk__in=[pk for pk, _r in rows]).values_list("pk", "account_id"))
    subject = (_("Returned to the pool %(pool)s by the rule %(rule)s") % {"pool": rule.pool, "rule": rule})[
        :200
    ]
    stamp = int(now.timestamp())
    _insert(
        Interaction,
        [
            "customer", "account", "channel", "direction", "subject", "body", "occurred_at", "related_model",
            "related_id", "url", "created_at", "updated_at", "version",
        ],
        [
            (
                pk, accounts.get(pk) or pk, InteractionChannel.EVENT.value, "internal", subject, reason, now,
                "sales.pool.recycled", f"{rule.pk}-{pk}-{stamp}", "", now, now, 1,
            )
            for pk, reason in rows
        ],
    )  # fmt: skip


def pools_recycle(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Run every active recycle rule: warnings first, then returns. Called by the sales scheduler."""
    now = now or timezone.now()
    result = {"warned": 0, "recycled": 0}
    for rule in RecycleRule.objects.filter(active=True, pool__active=True).select_related("pool"):
        result["recycled"] += rule_recycle(rule=rule, now=now)
        result["warned"] += rule_warn(rule=rule, now=now)
    return result
