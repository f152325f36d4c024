"""Staff sign-in security (kehu/security, docs/security.md): two-factor sign-in with recovery codes, throttled
code guessing, a role's required set-up, session expiry, signing out everywhere, the password policy, the sign-in
history and the new-device alert."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from rest_framework.authtoken.models import Token

from kehu.core.models import AuditEntry, Notification
from kehu.security import services, totp
from kehu.security.models import LoginEvent, LoginResult, TOTPDevice, UserSession

from ..factories import RoleFactory, UserFactory

pytestmark = pytest.mark.django_db
LOGIN = "/accounts/login/"
CODE = "/accounts/login/code/"
PASSWORD = "pw-123456"
UA = "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0"


@pytest.fixture
def person(db):
    return UserFactory(username="wang")


def _client(ip="10.1.1.1", agent=UA) -> Client:
    return Client(REMOTE_ADDR=ip, HTTP_USER_AGENT=agent)


def _sign_in(client, username="wang", password=PASSWORD):
    return client.post(LOGIN, {"username": username, "password": password})


def _enrol(user) -> str:
    device = services.totp_setup_begin(user=user)
    services.totp_setup_confirm(user=user, code=totp.code_at(device.secret))
    return device.secret


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


# ------------------------------------------------------------------------------------------------ enrolment
def test_enrolment_shows_a_qr_code_and_turns_on_with_the_first_right_code(person, frozen_clock):
    client = _client()
    client.force_login(person)
    page = client.get("/security/two-factor/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'src="data:image/svg+xml' in html
    secret = TOTPDevice.objects.get(user=person).secret
    assert secret in html and "otpauth://totp/Kehu:" in html
    wrong = client.post("/security/two-factor/", {"step": "confirm", "code": "000000"})
    assert wrong.status_code == 400 and not services.totp_enabled(person)
    right = client.post("/security/two-factor/", {"step": "confirm", "code": totp.code_at(secret)})
    assert right.status_code == 302 and right["Location"] == "/security/two-factor/recovery-codes/"
    codes_page = client.get(right["Location"])
    codes = [line.strip() for line in codes_page.content.decode().split("<code>")[1:]]
    assert len(codes) == 10 and services.recovery_codes_left(person) == 10
    assert codes_page["Cache-Control"] == "no-store"
    assert client.get("/security/two-factor/recovery-codes/").status_code == 302  # shown once
    assert AuditEntry.objects.filter(object_id=str(person.pk), note="two-factor sign-in turned on").exists()


def test_a_bad_code_is_a_field_error_and_nothing_changes(person):
    services.totp_setup_begin(user=person)
    for bad in ("", "abc", "1234567", "12345"):
        with pytest.raises(ValidationError) as caught:
            services.totp_setup_confirm(user=person, code=bad)
        assert "code" in caught.value.message_dict
    assert not services.totp_enabled(person)


# ------------------------------------------------------------------------------------------------ sign-in
def test_the_password_alone_does_not_sign_in_and_each_code_works_once(person, frozen_clock):
    secret = _enrol(person)
    frozen_clock.shift(dt.timedelta(seconds=90))  # past the enrolment code's window
    client = _client()
    step1 = _sign_in(client)
    assert step1.status_code == 302 and step1["Location"].startswith(CODE)
    assert not _signed_in(client) and client.get("/").status_code == 302
    code = totp.code_at(secret)
    assert client.post(CODE, {"code": code}).status_code == 302 and _signed_in(client)
    # the same code again (replay) is refused
    other = _client(ip="10.2.2.2")
    _sign_in(other)
    again = other.post(CODE, {"code": code})
    assert again.status_code == 400 and not _signed_in(other)
    events = list(LoginEvent.objects.filter(user=person).values_list("result", flat=True))
    assert events == [LoginResult.BAD_CODE, LoginResult.SUCCESS]


def test_guessing_codes_is_throttled_by_the_sign_in_protection(person, frozen_clock):
    secret = _enrol(person)
    client = _client()
    _sign_in(client)
    statuses = [client.post(CODE, {"code": f"{n:06d}"}).status_code for n in range(5)]
    assert statuses[:4] == [400] * 4 and statuses[4] == 429
    # the guesser must start again, and the user name is blocked, even with the right password and code
    assert _sign_in(client).status_code == 429
    fresh = _client(ip="10.9.9.9")
    assert _sign_in(fresh).status_code == 429 and not _signed_in(fresh)
    assert LoginEvent.objects.filter(user=person, result=LoginResult.BAD_CODE).count() == 5
    assert AuditEntry.objects.filter(action="lockout", object_id=str(person.pk)).count() == 1
    # after the cool-off the right code works again
    frozen_clock.shift(dt.timedelta(minutes=16))
    assert _sign_in(fresh).status_code == 302
    assert fresh.post(CODE, {"code": totp.code_at(secret)}).status_code == 302 and _signed_in(fresh)


def test_a_pending_password_step_expires(person, frozen_clock):
    secret = _enrol(person)
    client = _client()
    _sign_in(client)
    frozen_clock.shift(dt.timedelta(minutes=6))
    response = client.post(CODE, {"code": totp.code_at(secret)})
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert not _signed_in(client)
    assert _client().get(CODE).status_code == 302  # no password step: back to the sign-in page


def test_a_recovery_code_signs_in_once(person):
    _enrol(person)
    codes = services.recovery_codes_new(user=person)
    client = _client()
    _sign_in(client)
    response = client.post(CODE, {"code": codes[0].upper()}, follow=True)
    assert _signed_in(client) and "9 left" in response.content.decode()
    assert LoginEvent.objects.filter(user=person, result=LoginResult.RECOVERY).count() == 1
    other = _client(ip="10.3.3.3")
    _sign_in(other)
    assert other.post(CODE, {"code": codes[0]}).status_code == 400 and not _signed_in(other)


def test_turning_off_needs_a_code_and_is_refused_when_a_role_requires_it(person, admin_user, frozen_clock):
    secret = _enrol(person)
    frozen_clock.shift(dt.timedelta(seconds=90))
    client = _client()
    client.force_login(person)
    client.post("/security/two-factor/off/", {"code": "000000"})
    assert services.totp_enabled(person)
    role = RoleFactory()
    person.roles.add(role)
    services.role_policy_set(role=role, require_totp=True, by=admin_user)
    with pytest.raises(ValidationError):
        services.totp_turn_off(user=person, code=totp.code_at(secret))
    services.role_policy_set(role=role, require_totp=False, by=admin_user)
    client.force_login(person)
    client.post("/security/two-factor/off/", {"code": totp.code_at(secret)})
    assert not services.totp_enabled(person) and not person.recovery_codes.exists()


# ------------------------------------------------------------------------------------------------ role policy
def test_a_role_that_requires_two_factor_blocks_everything_until_it_is_set_up(person, admin_user):
    role = RoleFactory()
    person.roles.add(role)
    early = _client()
    _sign_in(early)
    assert early.get("/me/").status_code == 200
    admin = _client(ip="10.0.0.1")
    admin.force_login(admin_user)
    saved = admin.post("/security/roles/", {"require_totp": [str(role.pk)]})
    assert saved.status_code == 302
    assert early.get("/me/").status_code == 302 and not _signed_in(early)  # signed out by the change
    client = _client()
    assert _sign_in(client).status_code == 302
    for path in ("/", "/customers/", "/me/"):
        blocked = client.get(path)
        assert blocked.status_code == 302 and blocked["Location"] == "/security/two-factor/"
    assert client.get("/api/customers/").status_code == 403
    page = client.get("/security/two-factor/")
    assert page.status_code == 200 and "requires two-factor" in page.content.decode()
    secret = TOTPDevice.objects.get(user=person).secret
    client.post("/security/two-factor/", {"step": "confirm", "code": totp.code_at(secret)})
    assert client.get("/me/").status_code == 200
    assert AuditEntry.objects.filter(action="permission", model="core.role", object_id=str(role.pk)).exists()


def test_only_administrators_change_role_policies_and_read_others_sign_ins(person):
    client = _client()
    client.force_login(person)
    assert client.get("/security/roles/").status_code == 403
    assert client.get("/security/sign-ins/").status_code == 403
    assert client.post(f"/security/users/{person.pk}/", {"action": "sign_out"}).status_code == 403
    assert client.get("/security/").status_code == 200


# ------------------------------------------------------------------------------------------------ sessions
def test_idle_and_absolute_session_expiry(person, settings, frozen_clock):
    settings.KEHU_SESSION_IDLE_MINUTES = 30
    settings.KEHU_SESSION_MAX_HOURS = 2
    client = _client()
    _sign_in(client)
    frozen_clock.shift(dt.timedelta(minutes=29))
    assert client.get("/me/").status_code == 200
    frozen_clock.shift(dt.timedelta(minutes=29))
    assert client.get("/me/").status_code == 200  # active: the idle clock restarted
    frozen_clock.shift(dt.timedelta(minutes=31))
    idle = client.get("/me/")
    assert idle.status_code == 302 and "reason=idle" in idle["Location"] and not _signed_in(client)
    assert "without activity" in client.get(idle["Location"]).content.decode()
    _sign_in(client)
    for _ in range(4):  # busy all along: the absolute limit still ends it
        frozen_clock.shift(dt.timedelta(minutes=25))
        assert client.get("/me/").status_code == 200
    frozen_clock.shift(dt.timedelta(minutes=25))
    ended = client.get("/me/")
    assert ended.status_code == 302 and "reason=expired" in ended["Location"]
    api = client.get("/api/customers/", HTTP_HX_REQUEST="true")
    assert api.status_code in (401, 403)


def test_sign_out_everywhere_ends_every_session_and_the_api_token(person, admin_user):
    laptop, phone = _client(), _client(ip="10.4.4.4", agent="Phone")
    _sign_in(laptop)
    _sign_in(phone)
    Token.objects.create(user=person)
    assert UserSession.objects.filter(user=person).count() == 2
    page = laptop.get("/security/")
    assert page.status_code == 200 and "Phone" in page.content.decode()
    laptop.post("/security/sign-out-everywhere/")
    assert phone.get("/me/").status_code == 302 and laptop.get("/me/").status_code == 302
    assert (
        not Token.objects.filter(user=person).exists()
        and not UserSession.objects.filter(user=person).exists()
    )
    # an administrator does it for a user (a stolen laptop)
    _sign_in(laptop)
    admin = _client(ip="10.0.0.1")
    admin.force_login(admin_user)
    admin.post(f"/security/users/{person.pk}/", {"action": "sign_out"})
    assert laptop.get("/me/").status_code == 302
    notes = AuditEntry.objects.filter(object_id=str(person.pk), note__startswith="signed out everywhere")
    assert notes.count() == 2 and notes.filter(actor=admin_user).exists()


def test_a_password_change_keeps_the_session_known(person):
    client, other = _client(), _client(ip="10.5.5.5")
    _sign_in(client)
    _sign_in(other)
    changed = client.post(
        "/accounts/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "Qx7-river-lantern",
            "new_password2": "Qx7-river-lantern",
        },
    )
    assert changed.status_code == 302
    assert other.get("/me/").status_code == 302  # Django ends the other sessions at a password change
    keys = set(UserSession.objects.filter(user=person).values_list("session_key", flat=True))
    assert client.session.session_key in keys
    services.sessions_end_all(user=person, by=person)
    assert client.get("/me/").status_code == 302


# ------------------------------------------------------------------------------------------------ passwords
@pytest.mark.parametrize(
    "password, message",
    [
        ("woaini1314", "leaked"),  # the Chinese list
        ("Woaini1314!", "leaked"),
        ("woaini5201314", "leaked"),
        ("password123", "leaked"),
        ("Short-1", "too short"),
        ("wang.example.com", "too similar"),
        ("8273645519", "entirely numeric"),
    ],
)
def test_password_policy(person, password, message):
    with pytest.raises(ValidationError) as caught:
        validate_password(password, person)
    assert any(message in m for m in caught.value.messages), caught.value.messages


def test_a_good_password_passes(person):
    validate_password("Qx7-river-lantern", person)


# ------------------------------------------------------------------------------------------------ history
def test_sign_in_history_and_the_new_device_alert(person, admin_user):
    laptop = _client()
    _sign_in(laptop, password="wrong")
    _sign_in(laptop)
    assert not Notification.objects.filter(user=person).exists() and not mail.outbox  # the first device
    laptop.post("/accounts/logout/")
    _sign_in(laptop)  # the same browser: its cookie is known
    assert not Notification.objects.filter(user=person).exists()
    phone = _client(ip="10.8.8.8", agent="Mozilla/5.0 (iPhone) Safari/604.1")
    _sign_in(phone)
    note = Notification.objects.get(user=person)
    assert "new device" in note.title and "10.8.8.8" in note.body and "iPhone" in note.body
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [person.email] and "10.8.8.8" in mail.outbox[0].body
    results = list(
        LoginEvent.objects.filter(user=person).order_by("at", "id").values_list("result", "new_device")
    )
    assert results == [
        (LoginResult.BAD_PASSWORD, False),
        (LoginResult.SUCCESS, False),
        (LoginResult.SUCCESS, False),
        (LoginResult.SUCCESS, True),
    ]
    mine = phone.get("/security/").content.decode()
    assert "10.8.8.8" in mine and "iPhone" in mine and "wrong user name or password" in mine
    admin = _client(ip="10.0.0.1")
    admin.force_login(admin_user)
    listing = admin.get(f"/security/sign-ins/?user={person.pk}&failed=1").content.decode()
    assert "wrong user name or password" in listing and "iPhone" not in listing
    assert "iPhone" in admin.get("/security/sign-ins/").content.decode()
    # an unknown user name is recorded without a user
    _sign_in(_client(), username="nobody")
    assert LoginEvent.objects.filter(username="nobody", user=None, result=LoginResult.BAD_PASSWORD).exists()


def test_the_page_asked_for_is_opened_after_the_code(person, frozen_clock):
    secret = _enrol(person)
    frozen_clock.shift(dt.timedelta(seconds=90))  # past the enrolment code's window (each code works once)
    client = _client()
    step1 = client.post(
        f"{LOGIN}?next=/customers/%3Fq%3Da%26page%3D2", {"username": "wang", "password": PASSWORD}
    )
    assert step1.status_code == 302
    step2 = client.post(step1["Location"], {"code": totp.code_at(secret)})
    assert step2.status_code == 302 and step2["Location"] == "/customers/?q=a&page=2"
