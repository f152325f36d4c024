"""The role editor: field restrictions set from the UI through the service, validated and audited; child
record types show that their scope follows their parent."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from kehu.core import services
from kehu.core.access import Access
from kehu.core.models import AuditAction, AuditEntry, FieldGrant
from tests.factories import RoleFactory

pytestmark = pytest.mark.django_db
MODEL = "customers.customer"


def test_admin_sets_field_restrictions_from_the_role_page(admin_user, client, make_user):
    rep = make_user(MODEL, actions=("view", "change"))
    role = rep.roles.get()
    client.force_login(admin_user)
    response = client.post(
        f"/settings/roles/{role.pk}/",
        {
            "form": "fields",
            "model": MODEL,
            "field:tax_id": "hidden",
            "field:city": "readonly",
            "field:name": "edit",
        },
    )
    assert response.status_code == 302 and response["Location"].endswith(f"?model={MODEL}")
    assert dict(FieldGrant.objects.filter(role=role).values_list("field", "access")) == {
        "tax_id": "hidden",
        "city": "readonly",
    }
    assert Access.of(rep).field_access(MODEL) == {"tax_id": "hidden", "city": "readonly"}
    entries = AuditEntry.objects.filter(action=AuditAction.PERMISSION, model="core.role", object_id=role.pk)
    assert sorted(k for e in entries for k in e.changes) == [f"{MODEL}.city", f"{MODEL}.tax_id"]

    # back to editable removes the restriction, and is audited too
    client.post(f"/settings/roles/{role.pk}/", {"form": "fields", "model": MODEL, "field:tax_id": "edit"})
    assert list(FieldGrant.objects.filter(role=role).values_list("field", flat=True)) == ["city"]
    assert entries.all().count() == 3


def test_field_restrictions_refuse_unknown_fields_and_values(admin_user):
    role = RoleFactory()
    with pytest.raises(ValidationError, match="password"):
        services.role_field_access_set(
            role=role, model_label="core.user", values={"password": "hidden"}, by=admin_user
        )
    with pytest.raises(ValidationError, match="city"):
        services.role_field_access_set(role=role, model_label=MODEL, values={"city": "secret"}, by=admin_user)
    with pytest.raises(ValidationError):
        services.role_field_access_set(role=role, model_label="nope.model", values={}, by=admin_user)
    assert not FieldGrant.objects.exists()


def test_only_administrators_change_field_restrictions(make_user, client):
    rep = make_user(MODEL, actions=("view", "change"))
    role = rep.roles.get()
    with pytest.raises(PermissionDenied):
        services.role_field_access_set(role=role, model_label=MODEL, values={"tax_id": "hidden"}, by=rep)
    client.force_login(rep)
    response = client.post(
        f"/settings/roles/{role.pk}/", {"form": "fields", "model": MODEL, "field:tax_id": "hidden"}
    )
    assert response.status_code == 403
    assert not FieldGrant.objects.exists()


def test_child_record_types_show_their_parent_scope(admin_user, client):
    role = RoleFactory()
    client.force_login(admin_user)
    page = client.get(f"/settings/roles/{role.pk}/").content.decode()
    assert 'data-testid="inherits-interactions.interaction"' in page
    assert 'name="interactions.interaction:read_scope"' not in page
    assert 'name="customers.customer:read_scope"' in page
