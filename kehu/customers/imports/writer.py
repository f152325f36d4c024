"""Writing one planned batch inside the caller's transaction.

New customers are written in bulk — the customers, their primary and extra phones and emails, WeChat ids,
consent events, lifecycle entries and tags — with one CREATE audit entry per customer (note "import #<id>"),
the same rows and audit content `customer_create` produces (tests/customers/test_import_services.py checks
that). The batch-level rights were checked when the pass started (import and add rights, writable fields) and
every row was validated by the planner with the record service's own steps. If the bulk insert hits a
database constraint (a race with another writer), the batch is retried row by row in savepoints so only the
offending row fails. Updates go through `customer_update` one by one (row lock, version check, field rights,
audit), with extra contact points and consent written in the same audit entry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import phonenumbers
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DataError, IntegrityError, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import audit
from kehu.core.exceptions import StaleRecordError
from kehu.core.models import AuditAction

from .. import linkage, normalize, services
from ..models import (
    ConsentEvent,
    ConsentMethod,
    Customer,
    CustomerAddress,
    CustomerEmail,
    CustomerPhone,
    DuplicateCandidate,
    Kind,
    LifecycleChange,
    SocialIdentity,
)
from .models import ImportIssue, ImportRow, IssueLevel, RowAction
from .rows import Planner, RowPlan, column_label, same_address

log = logging.getLogger(__name__)


@dataclass
class BatchResult:
    counts: dict[str, int] = field(default_factory=dict)
    issues: list[ImportIssue] = field(default_factory=list)

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n


def _phone_kind(number: str) -> str:
    try:
        kind = phonenumbers.number_type(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        return CustomerPhone.PhoneKind.OTHER
    mobile = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
    return CustomerPhone.PhoneKind.MOBILE if kind in mobile else CustomerPhone.PhoneKind.WORK


def _evidence(planner: Planner, plan: RowPlan) -> str:
    """Where a consent answer came from, shown in the customer's consent history."""
    return (
        _("%(import)s, row %(row)d (%(file)s)")
        % {"import": planner.job.note, "row": plan.number, "file": planner.job.file_name}
    )[:300]


def _consent_events(customer, answers: dict, planner, plan, user, now) -> list[ConsentEvent]:
    """The consent answers of one imported row as history events (method: import, with the row as evidence)."""
    return [
        ConsentEvent(
            customer=customer,
            channel=channel,
            status=status,
            method=ConsentMethod.IMPORT,
            evidence=_evidence(planner, plan),
            at=now,
            recorded_by=user,
        )
        for channel, status in answers.items()
    ]


def _unsaved(planner: Planner, plan: RowPlan, exc: Exception) -> str:
    """The user's words for a database refusal; the technical detail (SQL, values) goes to the log only."""
    log.warning("import %s row %s not saved: %r", planner.job.pk, plan.number, exc)
    if isinstance(exc, DataError):
        return _(
            "The row could not be saved: a value does not fit in the database (too long or out of range)."
        )
    return _(
        "The row could not be saved: it conflicts with a record saved at the same time (the same phone, email "
        "or id, or a record that was deleted meanwhile). Check it and import it again."
    )


def issue_for(planner: Planner, plan: RowPlan, phase: str) -> ImportIssue:
    if plan.action == "skip":
        level, messages = IssueLevel.SKIPPED, [{"column": "", "field": "", "message": plan.note}]
    else:
        level = IssueLevel.ERROR if plan.action == "error" else IssueLevel.WARNING
        messages = [
            {"column": column_label(planner.headers, p.column), "field": p.field, "message": p.message}
            for p in (plan.problems if plan.action == "error" else plan.warnings)
        ]
    return ImportIssue(
        job=planner.job,
        phase=phase,
        row_number=plan.number,
        level=level,
        messages=messages,
        values=plan.cells,
    )


def dry_run(planner: Planner, plans: list[RowPlan]) -> BatchResult:
    result = BatchResult()
    for plan in plans:
        result.add(plan.action)
        if plan.action == "create" and plan.duplicates:
            result.add("flag")
        if plan.action in ("error", "skip") or plan.warnings:
            result.issues.append(issue_for(planner, plan, "preview"))
    return result


def write(planner: Planner, plans: list[RowPlan]) -> BatchResult:
    """Write a batch (call inside a transaction). Row-level failures become issues, never exceptions."""
    result = BatchResult()
    creates = [p for p in plans if p.action == "create"]
    if creates:
        try:
            with transaction.atomic():
                _insert(planner, creates)
        except (IntegrityError, DataError):
            for plan in creates:
                try:
                    with transaction.atomic():
                        _insert(planner, [plan])
                except (IntegrityError, DataError) as exc:
                    plan.instance.pk = None
                    plan.fail(None, "", _unsaved(planner, plan, exc))
                    plan.action = "error"
    rows = []
    for plan in plans:
        if plan.action == "create":
            rows.append(
                ImportRow(
                    job=planner.job,
                    row_number=plan.number,
                    action=RowAction.CREATED,
                    customer_id=plan.instance.pk,
                    version_after=1,
                )
            )
            result.add("created")
        elif plan.action in ("update", "unchanged"):
            _update(planner, plan)
            if plan.action in ("update", "unchanged"):
                action = RowAction.UPDATED if plan.action == "update" else RowAction.UNCHANGED
                rows.append(
                    ImportRow(
                        job=planner.job,
                        row_number=plan.number,
                        action=action,
                        customer_id=plan.existing.pk,
                        version_after=plan.existing.version,
                    )
                )
                result.add("updated" if plan.action == "update" else "unchanged")
        if plan.action == "skip":
            result.add("skipped")
        if plan.action in ("error", "skip"):
            if plan.action == "error":
                result.add("failed")
            result.issues.append(issue_for(planner, plan, "run"))
        elif plan.warnings and plan.action in ("create", "update", "unchanged"):
            result.issues.append(issue_for(planner, plan, "run"))
    ImportRow.objects.bulk_create(rows)
    flagged = _flag(planner, [p for p in plans if p.action == "create" and p.duplicates])
    if flagged:
        result.add("flagged", flagged)
    return result


def _insert(planner: Planner, plans: list[RowPlan]) -> None:
    user, job, now = planner.user, planner.job, timezone.now()
    customers = []
    for plan in plans:
        c = plan.instance
        c.pk = None
        c._state.adding = True
        c.created_at = c.updated_at = now
        customers.append(c)
    Customer.objects.bulk_create(customers)
    phones, emails, socials, consents, lifecycle, tag_links, entries = [], [], [], [], [], [], []
    addresses = []
    for plan, c in zip(plans, customers, strict=True):
        extras = plan.extras
        if c.phone:
            phones.append(
                CustomerPhone(
                    customer=c,
                    number=c.phone,
                    extension=extras.extensions.get(c.phone, ""),
                    is_primary=True,
                    kind=_phone_kind(c.phone),
                )
            )
        phones += [
            CustomerPhone(customer=c, number=n, extension=extras.extensions.get(n, ""), kind=_phone_kind(n))
            for n in extras.phones
        ]
        if c.email:
            emails.append(CustomerEmail(customer=c, email=c.email, is_primary=True))
        emails += [CustomerEmail(customer=c, email=e) for e in extras.emails]
        if extras.address:
            addresses.append(_address(c, extras.address, primary=True, postcode=extras.postcode))
        if extras.wechat:
            socials.append(
                SocialIdentity(customer=c, network=SocialIdentity.Network.WECHAT, handle=extras.wechat)
            )
        consents += _consent_events(c, extras.consent, planner, plan, user, now)
        lifecycle.append(
            LifecycleChange(
                customer=c, from_stage="", to_stage=c.lifecycle_stage, by=user, reason=_("Created"), at=now
            )
        )
        tag_links += [Customer.tags.through(customer_id=c.pk, tag_id=t.pk) for t in extras.tags]
        after = audit.snapshot(c)
        if extras.tags:
            after["tags"] = sorted(t.name for t in extras.tags)
        if extras.phones:
            after["phones"] = [normalize.format_phone(n, extras.extensions.get(n, "")) for n in extras.phones]
        if extras.extensions.get(c.phone):
            after["phone"] = normalize.format_phone(c.phone, extras.extensions[c.phone])
        if extras.emails:
            after["emails"] = list(extras.emails)
        if extras.wechat:
            after["socials"] = [f"{SocialIdentity.Network.WECHAT.label}: {extras.wechat}"]
        if extras.address:
            after["addresses"] = [extras.address]
        entries.append(
            (c.pk, str(c), {k: [None, v] for k, v in after.items() if v not in (None, "", [], {})}, 1)
        )
    CustomerPhone.objects.bulk_create(phones)
    CustomerEmail.objects.bulk_create(emails)
    SocialIdentity.objects.bulk_create(socials)
    CustomerAddress.objects.bulk_create(addresses)
    ConsentEvent.objects.bulk_create(consents)
    LifecycleChange.objects.bulk_create(lifecycle)
    Customer.tags.through.objects.bulk_create(tag_links)
    audit.log_many(
        actor=user, action=AuditAction.CREATE, model="customers.customer", rows=entries, note=job.note
    )
    for plan, c in zip(plans, customers, strict=True):
        planner.created_rows[plan.number] = c.pk


def _address(customer: Customer, text: str, *, primary: bool, postcode: str = "") -> CustomerAddress:
    """The row's address, split into province/city/district/street where those are recognised."""
    kind = (
        CustomerAddress.AddressKind.HOME
        if customer.kind == Kind.PERSON
        else CustomerAddress.AddressKind.OFFICE
    )
    parts = linkage.split_address(text)
    return CustomerAddress(customer=customer, kind=kind, is_primary=primary, postal_code=postcode, **parts)


def _update(planner: Planner, plan: RowPlan) -> None:
    extras, user = plan.extras, planner.user

    def children(locked: Customer) -> dict:
        changes: dict = {}
        primary = plan.data.get("phone")
        if primary and extras.extensions.get(primary):
            # the primary phone's row (the service syncs it after this hook) carries the extension
            CustomerPhone.objects.update_or_create(
                customer=locked,
                number=primary,
                defaults={"extension": extras.extensions[primary]},
                create_defaults={
                    "extension": extras.extensions[primary],
                    "is_primary": True,
                    "kind": _phone_kind(primary),
                },
            )
        if not extras:
            return changes
        have = set(CustomerPhone.objects.filter(customer=locked).values_list("number", flat=True))
        new_phones = [n for n in extras.phones if n not in have and n != locked.phone]
        CustomerPhone.objects.bulk_create(
            [
                CustomerPhone(
                    customer=locked, number=n, extension=extras.extensions.get(n, ""), kind=_phone_kind(n)
                )
                for n in new_phones
            ]
        )
        if new_phones:
            changes["phones"] = [
                None,
                [normalize.format_phone(n, extras.extensions.get(n, "")) for n in new_phones],
            ]
        have = set(CustomerEmail.objects.filter(customer=locked).values_list("email", flat=True))
        new_emails = [e for e in extras.emails if e not in have and e != locked.email]
        CustomerEmail.objects.bulk_create([CustomerEmail(customer=locked, email=e) for e in new_emails])
        if new_emails:
            changes["emails"] = [None, new_emails]
        if extras.address and not any(
            same_address(a, extras.address) for a in CustomerAddress.objects.filter(customer=locked)
        ):
            first = not CustomerAddress.objects.filter(customer=locked).exists()
            _address(locked, extras.address, primary=first, postcode=extras.postcode).save()
            changes["addresses"] = [None, [extras.address]]
        if extras.wechat:
            holder = (
                SocialIdentity.objects.filter(network=SocialIdentity.Network.WECHAT, handle=extras.wechat)
                .values_list("customer_id", flat=True)
                .first()
            )
            if holder is None:
                SocialIdentity.objects.create(
                    customer=locked, network=SocialIdentity.Network.WECHAT, handle=extras.wechat
                )
                changes["socials"] = [None, [f"{SocialIdentity.Network.WECHAT.label}: {extras.wechat}"]]
            elif holder != locked.pk:
                raise ValidationError(
                    {
                        "wechat": _("The WeChat id “%(id)s” already belongs to another customer.")
                        % {"id": extras.wechat}
                    }
                )
        answers = {
            c: s for c, s in extras.consent.items() if (locked.consent or {}).get(c, {}).get("status") != s
        }
        if answers:
            now = timezone.now()
            ConsentEvent.objects.bulk_create(_consent_events(locked, answers, planner, plan, user, now))
            locked.consent = planner._consent(locked.consent, answers)
        return changes

    before = plan.existing.version
    if plan.action == "unchanged":
        return
    try:
        with transaction.atomic():
            services.customer_update(
                customer=plan.existing,
                data=plan.data,
                by=user,
                expected_version=before,
                note=planner.job.note,
                children=children if extras or extras.extensions else None,
            )
    except StaleRecordError as exc:
        plan.fail(None, "", exc.message)
    except ValidationError as exc:
        planner.add_errors(plan, exc)
    except Http404:
        plan.fail(None, "", _("The matching customer is no longer visible to you."))
    except PermissionDenied as exc:
        plan.fail(None, "", str(exc) or _("You may not change this customer."))
    except (IntegrityError, DataError) as exc:
        plan.fail(None, "", _unsaved(planner, plan, exc))
    if plan.problems:
        plan.action = "error"
    elif plan.existing.version == before:
        plan.action = "unchanged"


def _flag(planner: Planner, plans: list[RowPlan]) -> int:
    """Record the duplicate pairs of new customers for review; returns how many customers got one (a pair
    with an earlier row whose customer could not be saved is not made, nor counted)."""
    pairs, flagged = [], set()
    for plan in plans:
        for found in plan.duplicates:
            other = found.pk if found.pk is not None else planner.created_rows.get(found.row)
            if other is None or other == plan.instance.pk:
                continue
            first, second = sorted((plan.instance.pk, other))
            pairs.append(
                DuplicateCandidate(first_id=first, second_id=second, score=found.score, reasons=found.reasons)
            )
            flagged.add(plan.number)
    DuplicateCandidate.objects.bulk_create(pairs, ignore_conflicts=True)
    return len(flagged)
