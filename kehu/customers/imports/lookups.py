"""Batched lookups of the planner: owners, accounts, the customers rows update, duplicates.

One query per kind and batch (never per row, never a scan): plain indexed lookups by value (user name,
company name key, phone, email, id), then the user's scope applied to the ids found — a row can only match,
update or be called a duplicate of a customer the user may see.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from django.db.models import Q
from django.utils.translation import gettext as _

from kehu.core.models import User

from .. import dedup, normalize
from ..models import (
    ConsentEvent,
    ConsentMethod,
    ConsentStatus,
    Customer,
    CustomerEmail,
    CustomerPhone,
    Kind,
    reason_text,
)
from . import mapping

if TYPE_CHECKING:
    from .rows import RowPlan


#: how a customer withdraws consent themselves (consent_record with by=None is the customer acting too)
CUSTOMER_METHODS = (ConsentMethod.UNSUBSCRIBE, ConsentMethod.PORTAL)


def withdrawn_by_customer(ids) -> dict[tuple[int, str], ConsentEvent]:
    """(customer, channel) → the withdrawal the customer made themselves (unsubscribe link, portal, any event
    recorded without staff) that no later grant has lifted. Consent and unsubscribe win: staff imports may
    not grant such a channel again, only the customer can."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    own = Q(status=ConsentStatus.WITHDRAWN) & (Q(recorded_by__isnull=True) | Q(method__in=CUSTOMER_METHODS))
    found: dict[tuple[int, str], ConsentEvent] = {}
    events = ConsentEvent.objects.filter(customer_id__in=ids).filter(own | Q(status=ConsentStatus.GRANTED))
    for event in events.order_by("at", "id").only("customer_id", "channel", "status", "method", "at"):
        key = (event.customer_id, event.channel)
        if event.status == ConsentStatus.GRANTED:
            found.pop(key, None)
        else:
            found[key] = event
    return found


class Duplicate(NamedTuple):
    """A customer (pk) or an earlier row of the file (row) a new row looks like, with the name to show: the
    preview describes it without loading the customer again."""

    pk: int | None
    row: int | None
    score: float
    reasons: list
    name: str = ""


class Lookups:
    """Mixin of rows.Planner (uses its user, scope, options and run state)."""

    def _resolve_owners(self, plans: list[RowPlan]) -> None:
        wanted = {p.values["owner"] for p in plans if "owner" in p.values} - set(self._owners)
        if not wanted:
            return
        users = list(
            User.objects.filter(is_active=True).filter(Q(username__in=wanted) | Q(display_name__in=wanted))
        )
        for ref in wanted:
            by_username = [u for u in users if u.username.lower() == ref.lower()]
            by_name = [u for u in users if u.display_name == ref]
            found = by_username or by_name
            if len(found) == 1:
                self._owners[ref] = found[0]
            elif len(found) > 1:
                self._owners[ref] = _("%(n)d active users are called “%(name)s”: use the user name.") % {
                    "n": len(found),
                    "name": ref,
                }
            else:
                self._owners[ref] = _("No active user “%(name)s”.") % {"name": ref}

    def _resolve_accounts(self, plans: list[RowPlan]) -> None:
        wanted = {p.values["account"] for p in plans if "account" in p.values} - set(self._accounts)
        if not wanted:
            return
        organisations = self.visible.filter(kind=Kind.ORGANIZATION).only("id", "name", "name_key", "kind")
        ids = {int(r.lstrip("#")) for r in wanted if r.lstrip("#").isdigit()}
        ids = {i for i in ids if i <= mapping.MAX_ID}  # a longer number is a name, not an id
        by_id = {c.pk: c for c in organisations.filter(pk__in=ids)} if ids else {}
        name_keys = {normalize.name_key(r): r for r in wanted}
        by_key: dict[str, list[Customer]] = {}
        for c in organisations.filter(name_key__in=list(name_keys)):
            by_key.setdefault(c.name_key, []).append(c)
        for ref in wanted:
            digits = ref.lstrip("#")
            if digits.isdigit() and int(digits) in by_id:
                self._accounts[ref] = by_id[int(digits)]
                continue
            matches = by_key.get(normalize.name_key(ref), [])
            if len(matches) == 1:
                self._accounts[ref] = matches[0]
            elif matches:
                self._accounts[ref] = _(
                    "%(n)d organisations are named “%(name)s” (%(ids)s): use the account's id."
                ) % {"n": len(matches), "name": ref, "ids": ", ".join(f"#{c.pk}" for c in matches[:5])}
            else:
                self._accounts[ref] = _("No organisation “%(name)s” that you can see.") % {"name": ref}

    @staticmethod
    def _holders(phones: set[str], emails: set[str]) -> list[tuple[str, int]]:
        """(key, customer id) of every customer with one of these phones or emails, as primary or other
        contact point. Plain indexed lookups; visibility is applied to the ids afterwards (a subquery or an
        OR across tables would make the database scan the customers)."""

        def held(key: str, values: set[str], primary: str, points, column: str) -> list[tuple[str, int]]:
            # the primary column on the customer, then the contact-point rows
            if not values:
                return []
            rows = list(Customer.objects.filter(**{f"{primary}__in": values}).values_list("pk", primary))
            rows += [
                (pk, v)
                for v, pk in points.objects.filter(**{f"{column}__in": values}).values_list(
                    column, "customer_id"
                )
            ]
            return [(f"{key}:{v}", pk) for pk, v in rows]

        found = held("phone", phones, "phone", CustomerPhone, "number")
        found += held("email", emails, "email", CustomerEmail, "email")
        return found

    def _visible_ids(self, ids) -> set[int]:
        ids = sorted(set(ids))
        return set(self.visible.filter(pk__in=ids).values_list("pk", flat=True)) if ids else set()

    def _match_candidates(self, plans: list[RowPlan]) -> dict[str, set[int]]:
        """match key → ids of visible customers with it. A customer an earlier batch of this run created is
        no candidate: its phone or email is an earlier row's (earlier.py), whoever may see it."""
        use = {"id": ["id"], "phone": ["phone"], "email": ["email"], "phone_email": ["phone", "email"]}[
            self.match_on
        ]
        found = [(f"id:{p.values['id']}", p.values["id"]) for p in plans if "id" in use and "id" in p.values]
        holders = self._holders(
            {p.values["phone"] for p in plans if "phone" in p.values} if "phone" in use else set(),
            {p.values["email"] for p in plans if "email" in p.values} if "email" in use else set(),
        )
        self._load_earlier(pk for _key, pk in holders)
        for key, pk in holders:
            if pk in self.job_created:
                self.match_keys.setdefault(key, self.job_created[pk])
            else:
                found.append((key, pk))
        visible = self._visible_ids(pk for _key, pk in found)
        result: dict[str, set[int]] = {}
        for key, pk in found:
            if pk in visible:
                result.setdefault(key, set()).add(pk)
        return result

    def _match_keys(self, plan: RowPlan) -> list[str]:
        keys_ = []
        if self.match_on == "id" and "id" in plan.values:
            keys_.append(f"id:{plan.values['id']}")
        if self.match_on in ("phone", "phone_email") and "phone" in plan.values:
            keys_.append(f"phone:{plan.values['phone']}")
        if self.match_on in ("email", "phone_email") and "email" in plan.values:
            keys_.append(f"email:{plan.values['email']}")
        return keys_

    def _duplicate_index(
        self, creates: list[RowPlan]
    ) -> tuple[dict[str, set[int]], dict[int, dedup.Profile]]:
        """Profiles of the customers new rows may duplicate — exact keys only: phones, emails, organisation
        names — among those the user may see, and those this run created (earlier rows of the file); with
        their blocking keys."""
        phones, emails, names = set(), set(), set()
        for p in creates:
            phones |= {x for x in [p.instance.phone, *p.extras.phones] if x}
            emails |= {x for x in [p.instance.email, *p.extras.emails] if x}
            if p.instance.kind == Kind.ORGANIZATION and p.instance.name_key:
                names.add(p.instance.name_key)
        if not (phones or emails or names):
            return {}, {}
        ids = {pk for _key, pk in self._holders(phones, emails)}
        if (
            names
        ):  # a person's name alone never reaches the threshold: only organisations are looked up by name
            ids |= set(
                Customer.objects.filter(name_key__in=names, kind=Kind.ORGANIZATION).values_list(
                    "pk", flat=True
                )
            )
        self._load_earlier(ids)
        ids = self._visible_ids(ids) | (ids & set(self.job_created))
        live = Customer.objects.filter(pk__in=sorted(ids), merged_into__isnull=True)
        profiles = dedup.load_profiles(live) if ids else {}
        index: dict[str, set[int]] = {}
        for profile in profiles.values():
            for key in dedup._keys(profile):
                index.setdefault(key, set()).add(profile.id)
        return index, profiles

    @staticmethod
    def describe(found: Duplicate) -> str:
        if found.row is not None:
            who = _("row %(row)d of this file") % {"row": found.row}
        else:
            who = _("“%(name)s” (#%(id)d)") % {"name": found.name, "id": found.pk}
        return _("Looks like %(who)s: %(reasons)s.") % {
            "who": who,
            "reasons": "; ".join(map(reason_text, found.reasons)),
        }
