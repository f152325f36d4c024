"""Invitation by staff (real SMTP), activation, password reset, sign-in throttling, two-step sign-in."""

from __future__ import annotations

import datetime as dt
import re

import pyotp
import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from kehu.core.models import User
from kehu.customers import services as customer_services
from kehu.portal.models import PortalUser
from kehu.portal.services import totp_begin

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _link(sink, path_start):
    recipients, content = sink.messages[-1]
    match = re.search(r"https?://[^\s]+(" + re.escape(path_start) + r"[^\s]+)", content)
    assert match, content
    return recipients, match.group(1)


def test_invite_from_the_customer_page_activation_by_email(
    staff, client, smtp_settings, django_capture_on_commit_callbacks
):
    account = customer_services.customer_create(data={"name": "上海宏达机械有限公司"}, by=staff)
    client.force_login(staff)
    page = client.get(reverse("customers:detail", args=[account.pk])).content.decode()
    assert 'data-testid="portal-invite"' in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("portal_staff:invite", args=[account.pk]),
            {"email": "Li.Na@Hongda.example.cn", "name": "李娜", "kind": "customer"},
        )
    assert response.status_code == 302
    profile = PortalUser.objects.get(user__email="li.na@hongda.example.cn")
    assert profile.customer == account and profile.contact.account == account
    assert not profile.user.is_active and profile.user.roles.count() == 0
    recipients, path = _link(smtp_settings, "/portal/activate/")
    assert recipients == ["li.na@hongda.example.cn"]
    client.logout()
    assert client.get(path).status_code == 200
    weak = client.post(path, {"new_password1": "123", "new_password2": "123"})
    assert weak.status_code == 200 and not User.objects.get(pk=profile.user_id).is_active
    done = client.post(path, {"new_password1": PASSWORD, "new_password2": PASSWORD})
    assert done.status_code == 302 and done["Location"] == reverse("portal:home")
    assert client.get(reverse("portal:home")).status_code == 200
    # the link works once
    client.logout()
    assert client.get(path).status_code == 400
    # and the invitation is on the customer's timeline
    from kehu.interactions.models import Interaction

    assert Interaction.objects.filter(customer=account, related_model="portal.portalactivity").exists()


def test_activation_link_expires(staff, smtp_settings, client, django_capture_on_commit_callbacks):
    from kehu.portal.services import portal_user_invite

    account = customer_services.customer_create(data={"name": "北京华信科技有限公司"}, by=staff)
    with django_capture_on_commit_callbacks(execute=True):
        portal_user_invite(customer=account, email="w@huaxin.example.cn", by=staff)
    _rcpt, path = _link(smtp_settings, "/portal/activate/")
    with time_machine.travel(timezone.now() + dt.timedelta(days=4)):
        assert client.get(path).status_code == 400


def test_invite_refuses_a_known_email_and_bad_input(staff, client, smtp_settings):
    account = customer_services.customer_create(data={"name": "北京华信科技有限公司"}, by=staff)
    client.force_login(staff)
    url = reverse("portal_staff:invite", args=[account.pk])
    client.post(url, {"email": "wang@huaxin.example.cn", "kind": "customer"})
    client.post(url, {"email": "WANG@huaxin.example.cn", "kind": "customer"})  # the same person again
    client.post(url, {"email": "not-an-email", "kind": "customer"})
    client.post(url, {"email": "x@huaxin.example.cn", "kind": "admin"})
    client.post(url, {"email": staff.email or "root@example.com", "kind": "customer"})  # a staff user's email
    assert list(PortalUser.objects.values_list("user__email", flat=True)) == ["wang@huaxin.example.cn"]


def test_staff_without_change_right_cannot_invite(world, make_user, client):
    viewer = make_user("customers.customer", actions=("view",), read="all", write="none")
    client.force_login(viewer)
    client.post(
        reverse("portal_staff:invite", args=[world.a.account.pk]),
        {"email": "x@a.example.cn", "kind": "customer"},
    )
    assert not PortalUser.objects.filter(user__email="x@a.example.cn").exists()


def test_password_reset_by_email(world, client, smtp_settings):
    email = world.a.portal.user.email
    client.post(reverse("portal:password_reset"), {"email": email})
    # staff get no portal reset mail
    client.post(reverse("portal:password_reset"), {"email": "nobody@example.com"})
    assert len(smtp_settings.messages) == 1
    _rcpt, path = _link(smtp_settings, "/portal/password/reset/")
    form = client.get(path, follow=True)
    assert form.status_code == 200
    done = client.post(
        form.redirect_chain[-1][0], {"new_password1": "Another-pass-77", "new_password2": "Another-pass-77"}
    )
    assert done.status_code == 302
    assert (
        client.post(reverse("portal:login"), {"username": email, "password": "Another-pass-77"}).status_code
        == 302
    )


def test_login_and_throttling(world, client, settings):
    email = world.a.portal.user.email
    ok = client.post(reverse("portal:login"), {"username": email, "password": PASSWORD})
    assert ok.status_code == 302 and ok["Location"] == "/portal/"
    client.logout()
    statuses = [
        client.post(reverse("portal:login"), {"username": email, "password": "wrong"}).status_code
        for _ in range(settings.AXES_FAILURE_LIMIT + 1)
    ]
    assert statuses[-1] == 429
    # locked out even with the right password now
    assert client.post(reverse("portal:login"), {"username": email, "password": PASSWORD}).status_code == 429


def test_staff_cannot_sign_in_to_the_portal(staff, client):
    staff.set_password(PASSWORD)
    staff.save()
    response = client.post(reverse("portal:login"), {"username": staff.username, "password": PASSWORD})
    assert response.status_code == 200 and "_auth_user_id" not in client.session


def test_two_step_sign_in(world, client, portal_client):
    profile = world.a.portal
    secret = totp_begin(profile=profile)
    c = portal_client(profile)
    page = c.post(reverse("portal:security"), {"form": "totp_on", "code": "000000"})
    assert page.status_code == 200
    PortalUser.objects.filter(pk=profile.pk).update(totp_secret=secret)
    c.post(reverse("portal:security"), {"form": "totp_on", "code": pyotp.TOTP(secret).now()})
    assert PortalUser.objects.get(pk=profile.pk).totp_enabled
    c.logout()
    step1 = client.post(reverse("portal:login"), {"username": profile.user.email, "password": PASSWORD})
    assert step1.status_code == 302 and step1["Location"].startswith(reverse("portal:login_code"))
    assert client.get(reverse("portal:home")).status_code == 302  # not signed in yet
    wrong = client.post(reverse("portal:login_code"), {"code": "123456"})
    assert wrong.status_code == 200 and "_auth_user_id" not in client.session
    right = client.post(reverse("portal:login_code"), {"code": pyotp.TOTP(secret).now()})
    assert right.status_code == 302
    assert client.get(reverse("portal:home")).status_code == 200


def test_two_step_code_attempts_are_limited(world, client):
    profile = world.a.portal
    secret = totp_begin(profile=profile)
    PortalUser.objects.filter(pk=profile.pk).update(totp_enabled=True)
    client.post(reverse("portal:login"), {"username": profile.user.email, "password": PASSWORD})
    for _ in range(5):
        client.post(reverse("portal:login_code"), {"code": "000000"})
    # the password step must be done again: even the right code is refused now
    response = client.post(reverse("portal:login_code"), {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302 and response["Location"] == reverse("portal:login")
    assert "_auth_user_id" not in client.session


def test_ended_access_signs_out(world, client, portal_client):
    c = portal_client(world.a.portal)
    assert c.get(reverse("portal:home")).status_code == 200
    from kehu.portal.services import portal_user_deactivate

    portal_user_deactivate(profile=world.a.portal, by=world.staff)
    assert c.get(reverse("portal:home")).status_code == 302
