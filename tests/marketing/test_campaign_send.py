"""The email send path end to end over real SMTP (aiosmtpd): personalisation, plain-text and HTML parts,
tracked links and open pixel, RFC 8058 headers, the timeline, and the rules that stop a message."""

from __future__ import annotations

import datetime as dt
import email
import email.policy

import pytest
from django.db.models import Count
from django.utils import timezone

from kehu.customers.models import ConsentEvent
from kehu.interactions.models import Interaction
from kehu.marketing import contact_rules as cr
from kehu.marketing import emails
from kehu.marketing.models import ContactLedger, DoNotContact, Message, MessageStatus, RuleHold
from kehu.marketing.services import campaigns as services
from kehu.marketing.services import sending

from .campaigning import campaign, customer, launch, static_segment, to_next_slot

pytestmark = pytest.mark.django_db


def parsed(sink):
    return [email.message_from_bytes(raw.encode(), policy=email.policy.default) for _to, raw in sink.messages]


@pytest.fixture
def world(org, mail_sink, frozen_clock):
    to_next_slot(frozen_clock)
    people = {
        "a": customer("王芳", org.rep1, email="wangfang@example.com", city="杭州"),
        "b": customer("李雷", org.rep1, email="lilei@example.com", city="上海"),
        "no_consent": customer("赵六", org.rep1, email="zhao@example.com", consent={}),
        "no_email": customer("钱七", org.rep1, email=""),
        "dnc": customer("孙八", org.rep1, email="sun@example.com"),
    }
    DoNotContact.objects.create(email="SUN@example.com", reason="投诉 complaint")
    made = launch(
        campaign(org.marketer, static_segment(org.marketer, people.values())), org.marketer, org.exec
    )
    return {"org": org, "people": people, "campaign": made, "sink": mail_sink, "clock": frozen_clock}


def test_a_launched_campaign_sends_personalised_tracked_email_and_logs_it(world):
    services.journeys_advance()
    out = sending.dispatch()
    assert (out.sent, out.dropped, out.held) == (2, 3, 0)
    mails = {m["To"]: m for m in parsed(world["sink"])}
    assert set(mails) == {"wangfang@example.com", "lilei@example.com"}
    mail = mails["wangfang@example.com"]
    assert mail["Subject"] == "王芳，春季新品上市"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "您好 王芳" in text and "杭州 门店见" in text and "{{" not in text
    message = Message.objects.get(customer=world["people"]["a"])
    token = emails.token_for(message.pk)
    assert f"/public/m/c/{token}/0/" in text and "shop.example.com/spring" not in text.split("--")[0]
    assert f'href="http://127.0.0.1:8000/public/m/c/{token}/0/"' in html
    assert f'<img src="http://127.0.0.1:8000/public/m/o/{token}/"' in html
    assert mail["List-Unsubscribe"].strip() == f"<http://127.0.0.1:8000/public/m/u/{token}/>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["Message-ID"].startswith(f"<kehu-campaign-{message.pk}@")
    assert message.status == MessageStatus.SENT and message.to_address == "wangfang@example.com"
    entry = Interaction.objects.get(related_model="marketing.message", related_id=str(message.pk))
    assert (
        entry.customer_id == world["people"]["a"].pk and entry.channel == "email" and entry.direction == "out"
    )
    assert "春季新品推广" in entry.subject
    reasons = dict(Message.objects.filter(status=MessageStatus.DROPPED).values_list("customer__name", "rule"))
    assert reasons == {"赵六": cr.Rule.CONSENT, "钱七": cr.Rule.NO_ADDRESS, "孙八": cr.Rule.DO_NOT_CONTACT}
    assert RuleHold.objects.filter(campaign=world["campaign"], dropped=True).count() == 3
    # a second run sends nobody again
    assert sending.dispatch().claimed == 0 and len(world["sink"].messages) == 2


def test_a_customer_field_cannot_become_a_link_and_is_escaped_in_html(world, org):
    evil = customer("<b>x</b> http://evil.example/", org.rep1, email="evil@example.com")
    seg = static_segment(org.marketer, [evil], name="evil")
    made = launch(campaign(org.marketer, seg, name="c2"), org.marketer, org.exec)
    services.journeys_advance()
    sending.dispatch()
    mail = next(m for m in parsed(world["sink"]) if m["To"] == "evil@example.com")
    html = mail.get_body(("html",)).get_content()
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert 'href="http://evil.example' not in html
    assert made.messages.get().status == MessageStatus.SENT


def test_tracking_pixel_click_and_bad_tokens(world, client):
    services.journeys_advance()
    sending.dispatch()
    message = Message.objects.get(customer=world["people"]["a"])
    token = emails.token_for(message.pk)
    pixel = client.get(f"/public/m/o/{token}/")
    assert pixel.status_code == 200 and pixel["Content-Type"] == "image/gif"
    message.refresh_from_db()
    assert message.opened_at is not None and message.clicked_at is None
    response = client.get(f"/public/m/c/{token}/0/")
    assert response.status_code == 302 and response["Location"] == "https://shop.example.com/spring?utm=kehu"
    message.refresh_from_db()
    assert message.clicked_at is not None
    assert client.get(f"/public/m/c/{token}/1/").status_code == 404  # no second link
    assert client.get(f"/public/m/o/{message.pk}-{'0' * 24}/").status_code == 404  # forged token
    assert client.get("/public/m/o/abc/").status_code == 404


def test_one_click_unsubscribe_records_the_withdrawal_and_stops_further_mail(world, client):
    services.journeys_advance()
    sending.dispatch()
    a = world["people"]["a"]
    token = emails.token_for(Message.objects.get(customer=a).pk)
    landing = client.get(f"/public/m/u/{token}/")
    assert landing.status_code == 200 and b"unsubscribe-form" in landing.content
    a.refresh_from_db()
    assert a.consent["email"]["status"] == "granted"  # a GET (a link scanner) changes nothing
    response = client.post(f"/public/m/u/{token}/", {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and b"unsubscribed" in response.content
    event = ConsentEvent.objects.get(customer=a, status="withdrawn")
    assert (event.channel, event.method, event.recorded_by) == ("email", "unsubscribe", None)
    assert "one-click" in event.evidence
    a.refresh_from_db()
    assert a.consent["email"]["status"] == "withdrawn"
    client.post(f"/public/m/u/{token}/", {"List-Unsubscribe": "One-Click"})  # again: no second event
    assert ConsentEvent.objects.filter(customer=a).count() == 1
    # a later campaign reaches b but never a
    seg = static_segment(world["org"].marketer, [a, world["people"]["b"]], name="again")
    later = launch(campaign(world["org"].marketer, seg, name="c3"), world["org"].marketer, world["org"].exec)
    world["clock"].shift(3 * 86400)
    to_next_slot(world["clock"])
    services.journeys_advance()
    sending.dispatch()
    dropped = later.messages.get(customer=a)
    assert dropped.status == MessageStatus.DROPPED and dropped.rule == cr.Rule.UNSUBSCRIBED
    assert later.messages.get(customer=world["people"]["b"]).status == MessageStatus.SENT
    assert [m["To"] for m in parsed(world["sink"])].count("wangfang@example.com") == 1


def test_the_daily_cap_and_spacing_hold_a_second_campaign_until_its_slot(world, org):
    services.journeys_advance()
    sending.dispatch()
    seg = static_segment(org.marketer, [world["people"]["a"]], name="second")
    second = launch(campaign(org.marketer, seg, name="第二个活动"), org.marketer, org.exec)
    services.journeys_advance()
    out = sending.dispatch()
    held = second.messages.get()
    assert out.held == 1 and held.status == MessageStatus.HELD and held.rule == cr.Rule.DAILY_CAP
    tz, cfg = cr.zone(None), cr.config()
    sent_at = Message.objects.get(campaign=world["campaign"], customer=world["people"]["a"]).sent_at
    assert cr.local_day(held.not_before, tz) >= cr.local_day(sent_at, tz) + dt.timedelta(days=2)
    assert cr.why_not_now(held.not_before, tz, held.kind, cfg) is None
    # the next day, in a window: still held, now by the spacing rule
    next_day = cr.next_slot(
        sent_at, tz, held.kind, cfg, not_before_day=cr.local_day(sent_at, tz) + dt.timedelta(days=1)
    )
    world["clock"].move_to(next_day, tick=False)
    Message.objects.filter(pk=held.pk).update(not_before=next_day)  # due again: re-checked now
    sending.dispatch()
    held.refresh_from_db()
    assert held.status == MessageStatus.HELD and held.rule == cr.Rule.SPACING
    world["clock"].move_to(held.not_before, tick=False)
    sending.dispatch()
    held.refresh_from_db()
    assert held.status == MessageStatus.SENT
    assert [m["To"] for m in parsed(world["sink"])].count("wangfang@example.com") == 2
    counts = dict(RuleHold.objects.filter(campaign=second).values_list("rule").annotate(n=Count("id")))
    assert counts == {cr.Rule.DAILY_CAP: 1, cr.Rule.SPACING: 1}


def test_outside_the_window_a_message_is_held_until_the_next_slot(world, org):
    slot = cr.next_slot(dt.datetime.now(dt.UTC), cr.zone(None), cr.MessageKind.CARE, cr.config())
    care_start = slot - dt.timedelta(minutes=1)
    assert cr.why_not_now(care_start, cr.zone(None), cr.MessageKind.CARE, cr.config()) is not None
    seg = static_segment(org.marketer, [world["people"]["b"]], name="care")
    care = launch(
        campaign(
            org.marketer,
            seg,
            name="关怀",
            steps=[{"kind": "send", "message_kind": "care", "subject": "生日快乐", "body": "祝您生日快乐"}],
        ),
        org.marketer,
        org.exec,
    )
    world["clock"].move_to(care_start, tick=False)
    services.journeys_advance()
    sending.dispatch()
    message = care.messages.get()
    assert message.status == MessageStatus.HELD and message.rule in (cr.Rule.WINDOW, cr.Rule.QUIET_HOURS)
    assert message.not_before == slot
    world["clock"].move_to(slot, tick=False)
    sending.dispatch()
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT


def test_a_message_held_past_the_campaign_end_is_dropped_with_the_reason(world, org):
    seg = static_segment(org.marketer, [world["people"]["a"]], name="short")
    services.journeys_advance()
    sending.dispatch()  # a got the first campaign's email today
    short = launch(
        campaign(org.marketer, seg, name="一日活动", end_date=timezone.localdate()), org.marketer, org.exec
    )
    services.journeys_advance()
    sending.dispatch()
    message = short.messages.get()
    assert message.status == MessageStatus.DROPPED and message.rule == cr.Rule.EXPIRED
    assert "One message per day" in message.reason
    assert RuleHold.objects.get(message=message).rule == cr.Rule.DAILY_CAP


def test_a_refused_recipient_fails_alone_and_frees_the_day(world, org):
    refused = customer("周九", org.rep1, email="zhou@refused.example")
    seg = static_segment(org.marketer, [refused, world["people"]["a"]], name="refused")
    launch(campaign(org.marketer, seg, name="c4"), org.marketer, org.exec)
    services.journeys_advance()
    out = sending.dispatch()
    assert (out.failed, out.sent, out.held) == (1, 2, 1)  # a is in both campaigns: the cap holds one
    failed = Message.objects.get(customer=refused)
    assert failed.status == MessageStatus.FAILED and "550" in failed.reason
    assert not ContactLedger.objects.filter(message=failed).exists()
