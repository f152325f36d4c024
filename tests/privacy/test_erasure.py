"""Erasure: the subject's personal values appear in no table, search, audit payload or export afterwards;
counts and revenue totals are unchanged; a restore from an older backup is erased again."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.core.management import call_command
from django.db.models import Count, Sum

from kehu.core.history import present_mixed
from kehu.core.models import AuditEntry
from kehu.customers.models import Customer, CustomerPhone
from kehu.customers.search import customer_search
from kehu.privacy import erasure, services
from kehu.privacy.export import export_personal_data
from kehu.privacy.models import Erasure, PrivacyRequest, SubjectKey
from kehu.sales.models import Order
from kehu.service.models import Ticket, TicketMessage

from .conftest import EMAIL, ID_NUMBER, NAME, PERSONAL, PHONE
from .scan import occurrences

pytestmark = pytest.mark.django_db(transaction=False)


def _totals():
    return {
        "customers": Customer.objects.count(),
        "orders": Order.objects.count(),
        "revenue": Order.objects.aggregate(s=Sum("total"))["s"],
        "tickets": Ticket.objects.count(),
        "messages": TicketMessage.objects.count(),
        "by_stage": dict(Customer.objects.values_list("lifecycle_stage").annotate(n=Count("id"))),
    }


def _erase(subject, officer):
    dpo, dpo2 = officer
    req = services.request_create(
        customer_id=subject.customer.pk,
        kind="erasure",
        requester=NAME,
        channel="email",
        by=dpo,
        verified=True,
    )
    req = services.request_approve(request=req, by=dpo2)
    return services.request_run(request=req, by=dpo)


def _exclude(subject):
    pk = subject.namesake.pk
    return {"customers_customer": f"AND id <> {pk}", "customers_customer_fts": f"AND rowid <> {pk}"}


def test_before_erasure_the_scan_finds_the_values(subject):
    """The scan itself works: before erasure the values are there (the audit trail holds them sealed)."""
    found = {(t, v) for t, _c, v in occurrences(PERSONAL, exclude_rows=_exclude(subject))}
    assert ("customers_customer", NAME) in found
    assert ("service_ticketmessage", PHONE) in found
    leaks = [f for f in found if f[0] == "core_auditentry"]
    if leaks:
        for e in AuditEntry.objects.all():
            text = json.dumps(e.changes, ensure_ascii=False) + e.object_repr
            if any(v in text for _t, v in leaks):
                print("LEAK", e.model, e.action, e.object_repr, text[:300])
    assert not leaks, "audit payloads must be sealed"
    assert not [f for f in found if f[0].startswith("privacy_")], "sensitive values must be encrypted"


def test_erasure_leaves_no_personal_value_anywhere(subject, officer, admin_user):
    before = _totals()
    req = _erase(subject, officer)
    assert req.status == "done"
    assert req.outcome["audit_keys_destroyed"] == 1
    assert _totals() == before
    leaks = occurrences(PERSONAL, exclude_rows=_exclude(subject))
    assert leaks == []
    # the namesake is untouched
    namesake = Customer.objects.get(pk=subject.namesake.pk)
    assert namesake.name == NAME and namesake.phone == "+8613700009999"
    # search finds the namesake only
    assert [c.pk for c in customer_search(user=admin_user, q=NAME)] == [subject.namesake.pk]
    for value in (PHONE, EMAIL, ID_NUMBER):
        assert subject.customer.pk not in [c.pk for c in customer_search(user=admin_user, q=value)]
    assert not CustomerPhone.objects.filter(number=PHONE).exists()
    # the order is kept with its number and amounts, the text gone
    order = Order.objects.get(pk=subject.order.pk)
    assert order.number == subject.order.number and order.total == subject.order.total
    # the audit trail reads "[erased]" where it held personal values
    entries = AuditEntry.objects.filter(model="customers.customer", object_id=str(subject.customer.pk))
    text = json.dumps(
        [
            {"r": i.entry.object_repr, "c": [[c.before, c.after] for c in i.changes]}
            for i in present_mixed(entries, user=admin_user)
        ],
        ensure_ascii=False,
        default=str,
    )
    assert NAME not in text and PHONE not in text and "[erased]" in text
    # the export after erasure holds none of it
    archive = zipfile.ZipFile(
        io.BytesIO(export_personal_data(Customer.objects.get(pk=subject.customer.pk), audience="staff"))
    )
    dump = "".join(archive.read(n).decode("utf-8-sig") for n in archive.namelist())
    assert not [v for v in PERSONAL if v in dump]
    # the portal account is closed
    subject.portal.user.refresh_from_db()
    assert not subject.portal.user.is_active and subject.portal.user.email == ""


def test_erasure_survives_a_restore_from_an_older_backup(subject, officer, tmp_path):
    """Simulate a restore: the database rows come back (the backup was taken before the erasure) but the
    tombstone file is outside the database; reapply-erasures erases again."""
    cid = subject.customer.pk
    snapshot = {
        "customer": Customer.objects.filter(pk=cid).values().get(),
        "phones": list(CustomerPhone.objects.filter(customer_id=cid).values()),
        "key": SubjectKey.objects.filter(customer_id=cid).values().get(),
    }
    _erase(subject, officer)
    # "restore": the old rows are back, the tombstone table is as in the backup (empty)
    Erasure.objects.all().delete()
    row = dict(snapshot["customer"])
    Customer.objects.filter(pk=cid).update(
        **{k: v for k, v in row.items() if k not in {"id", "search_vector", "search_restricted_vector"}}
    )
    CustomerPhone.objects.bulk_create([CustomerPhone(**p) for p in snapshot["phones"]])
    SubjectKey.objects.create(**snapshot["key"])
    assert Customer.objects.get(pk=cid).name == NAME
    out = io.StringIO()
    call_command("privacy", "reapply-erasures", stdout=out)
    assert "erased again: 1" in out.getvalue()
    assert Customer.objects.get(pk=cid).name == erasure.erased_name(cid)
    assert not SubjectKey.objects.filter(customer_id=cid).exists()
    assert not CustomerPhone.objects.filter(customer_id=cid).exists()
    assert Erasure.objects.filter(customer_id=cid).exists()
    out = io.StringIO()
    call_command("privacy", "reapply-erasures", stdout=out)  # idempotent
    assert "erased again: 0" in out.getvalue()


def test_erasure_needs_a_second_person(subject, officer):
    from django.core.exceptions import ValidationError

    dpo, _dpo2 = officer
    req = services.request_create(
        customer_id=subject.customer.pk,
        kind="erasure",
        requester=NAME,
        channel="email",
        by=dpo,
        verified=True,
    )
    with pytest.raises(ValidationError) as err:
        services.request_approve(request=req, by=dpo)
    assert "approved_by" in err.value.message_dict
    with pytest.raises(ValidationError):
        services.request_run(request=req, by=dpo)
    assert PrivacyRequest.objects.get(pk=req.pk).status == "received"
    assert Customer.objects.get(pk=subject.customer.pk).name == NAME
