"""Sensitive fields: encrypted at rest, blind index, masking by role consistent with field rights, rotation."""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse

from kehu.core.models import FieldGrant, Role, Scope
from kehu.privacy import crypto, sensitive
from kehu.privacy.models import SensitiveValue, SubjectKey
from tests.factories import UserFactory, grant

from .conftest import BANK, ID_NUMBER

pytestmark = pytest.mark.django_db


def _rep(hidden=()):
    role = Role.objects.create(code=f"r{len(hidden)}", name="rep")
    grant(role, "customers.customer", ("view", "change"), Scope.ALL, Scope.ALL)
    for f in hidden:
        FieldGrant.objects.create(role=role, model="customers.customer", field=f, access="hidden")
    user = UserFactory(username=f"rep{len(hidden)}")
    user.roles.add(role)
    return user


def test_stored_encrypted_with_a_blind_index(subject):
    row = SensitiveValue.objects.get(field="id_number")
    assert ID_NUMBER not in row.ciphertext and row.masked == "110***********002X"
    assert crypto.decrypt(row.ciphertext) == ID_NUMBER
    assert sensitive.match(model="customers.customer", name="id_number", value=ID_NUMBER.lower()) == [
        str(subject.customer.pk)
    ]
    assert sensitive.match(
        model="customers.customer", name="bank_account", value="6222 0212 3456 7890 123"
    ) == [str(subject.customer.pk)]
    # the customer's own matching key follows (search by ID number, duplicate scan)
    subject.customer.refresh_from_db()
    assert subject.customer.id_number_masked and subject.customer.id_number_hash


def test_masked_by_role_and_hidden_stays_hidden(subject, client):
    seer = _rep()
    rows = {r["name"]: r["value"] for r in sensitive.shown(instance=subject.customer, user=seer)}
    assert rows["id_number"] == "110***********002X" and rows["bank_account"] == "***************0123"
    blind = _rep(hidden=("id_number_masked", "tax_id"))
    assert sensitive.shown(instance=subject.customer, user=blind) == []
    client.force_login(blind)
    page = client.get(reverse("customers:detail", args=[subject.customer.pk])).content.decode()
    assert "002X" not in page and "0123" not in page
    with pytest.raises(ValidationError):
        sensitive.sensitive_set(instance=subject.customer, name="bank_account", value=BANK, by=blind)


def test_bad_values_are_refused_with_a_field_error(subject):
    with pytest.raises(ValidationError) as err:
        sensitive.sensitive_set(
            instance=subject.customer, name="id_number", value="110105194912310021", by=subject.staff
        )
    assert "id_number" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        sensitive.sensitive_set(
            instance=subject.customer, name="bank_account", value="12ab", by=subject.staff
        )
    assert "bank_account" in err.value.message_dict
    assert crypto.decrypt(SensitiveValue.objects.get(field="bank_account").ciphertext) == BANK


def test_key_rotation_re_encrypts_everything(subject, settings, monkeypatch):
    old = crypto.master_keys()[0].decode()
    new = Fernet.generate_key().decode()
    monkeypatch.setenv("KEHU_PRIVACY_KEYS", f"{new},{old}")
    out = io.StringIO()
    call_command("privacy", "rotate-keys", stdout=out)
    assert "re-encrypted values: 2" in out.getvalue()
    assert old not in out.getvalue() and new not in out.getvalue()
    monkeypatch.setenv("KEHU_PRIVACY_KEYS", new)  # the old key dropped: everything still reads
    assert crypto.decrypt(SensitiveValue.objects.get(field="id_number").ciphertext) == ID_NUMBER
    for key in SubjectKey.objects.all():
        crypto.decrypt(key.wrapped)
    assert sensitive.match(model="customers.customer", name="id_number", value=ID_NUMBER)


def test_audit_values_are_sealed_and_read_back(subject, admin_user):
    from kehu.core.history import present_mixed
    from kehu.core.models import AuditEntry

    entries = AuditEntry.objects.filter(model="customers.customer", object_id=str(subject.customer.pk))
    raw = "".join(str(c) + r for c, r in entries.values_list("changes", "object_repr"))  # as stored
    assert "欧阳" not in raw and "+8613912345678" not in raw
    shown = "".join(
        f"{i.entry.object_repr} {[(c.before, c.after) for c in i.changes]}"
        for i in present_mixed(entries, user=admin_user)
    )
    assert "欧阳晓梅" in shown and "110***********002X" in shown
