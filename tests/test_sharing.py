"""Sharing a record from its page: the grantee sees it (and edits it only with edit access)."""

import pytest

from kehu.core.models import AuditEntry, RecordShare, Scope
from kehu.customers import services
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db


def test_owner_shares_with_user_then_removes(make_user, client):
    owner = make_user("customers.customer", read=Scope.OWN, write=Scope.OWN)
    colleague = make_user("customers.customer", read=Scope.OWN, write=Scope.OWN)
    customer = services.customer_create(data={"name": "共享测试有限公司"}, by=owner)
    url = f"/customers/{customer.pk}/"
    client.force_login(colleague)
    assert client.get(url).status_code == 404
    client.force_login(owner)
    response = client.post(
        f"/share/customers.customer/{customer.pk}/", {"user": colleague.pk, "access": "view"}
    )
    assert response.status_code == 302
    assert AuditEntry.objects.filter(action="share", object_id=str(customer.pk)).exists()
    client.force_login(colleague)
    assert client.get(url).status_code == 200
    assert client.get(f"{url}edit/").status_code == 403
    # the grantee cannot re-share a record they may only view
    client.post(f"/share/customers.customer/{customer.pk}/", {"user": colleague.pk, "access": "edit"})
    assert RecordShare.objects.get().access == "view"
    share = RecordShare.objects.get()
    client.force_login(owner)
    client.post(f"/share/customers.customer/{customer.pk}/{share.pk}/remove/")
    assert not RecordShare.objects.exists()
    client.force_login(colleague)
    assert client.get(url).status_code == 404


def test_edit_share_with_team_lets_members_edit(make_user, client):
    owner = make_user("customers.customer")
    member = make_user("customers.customer")
    team = TeamFactory()
    team.members.add(member)
    customer = services.customer_create(data={"name": "团队共享有限公司"}, by=owner)
    client.force_login(owner)
    client.post(f"/share/customers.customer/{customer.pk}/", {"team": team.pk, "access": "edit"})
    client.force_login(member)
    page = client.get(f"/customers/{customer.pk}/edit/")
    assert page.status_code == 200
    form = page.context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None and k not in {"tags"}}
    data.update({"name": "团队共享有限公司（已更新）", "version": customer.version})
    assert client.post(f"/customers/{customer.pk}/edit/", data).status_code == 302
    customer.refresh_from_db()
    assert customer.name == "团队共享有限公司（已更新）"


def test_share_form_needs_exactly_one_target(make_user, client):
    owner = make_user("customers.customer")
    customer = services.customer_create(data={"name": "表单校验公司"}, by=owner)
    client.force_login(owner)
    response = client.post(f"/share/customers.customer/{customer.pk}/", {"access": "view"}, follow=True)
    assert "Choose either a user or a team." in response.content.decode()
    assert not RecordShare.objects.exists()
