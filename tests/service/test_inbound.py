"""Email-to-ticket: real mail over SMTP to the receiver, threading by Message-ID/References and by subject
token, customer matching that never guesses (duplicates, spoofed and forwarded senders), and ingestion that
survives a 20 MB attachment, malformed MIME, GBK/GB18030 and unknown charsets, quarantining the poisoned."""

from __future__ import annotations

import base64
import smtplib
import socket
import time
from email.header import Header
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from django.core import mail as django_mail

from kehu.customers import services as customer_services
from kehu.service import mailparse
from kehu.service.models import (
    InboundMessage,
    InboundStatus,
    MessageKind,
    Queue,
    Ticket,
    TicketAttachment,
    TicketMessage,
)
from kehu.service.services import conversation, tickets
from kehu.service.services.inbound import inbound_receive

CUSTOMER_EMAIL = "service@hongda.example.cn"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def message(
    subject="设备故障",
    body="水泵不转了，请尽快处理。",
    sender=CUSTOMER_EMAIL,
    to="support@kehu.example",
    **headers,
):
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = headers.pop("message_id", make_msgid(domain="hongda.example.cn"))
    for key, value in headers.items():
        msg[key.replace("_", "-")] = value
    msg.set_content(body)
    return msg


def receive(msg, envelope_from=CUSTOMER_EMAIL, to=("support@kehu.example",)) -> InboundMessage:
    raw = msg if isinstance(msg, bytes) else msg.as_bytes()
    return inbound_receive(raw=raw, envelope_from=envelope_from, envelope_to=list(to))


@pytest.mark.django_db
def test_new_mail_opens_a_ticket_for_the_one_customer_with_the_address(customer, queue):
    inbound = receive(message())
    assert inbound.status == InboundStatus.PROCESSED, inbound.reason
    ticket = Ticket.objects.get()
    assert ticket.customer == customer and ticket.channel == "email" and ticket.subject == "设备故障"
    first = TicketMessage.objects.get(ticket=ticket, kind=MessageKind.CUSTOMER)
    assert first.body.startswith("水泵不转了") and first.message_id.endswith("@hongda.example.cn>")
    assert receive(message()).pk != inbound.pk  # another message
    assert (
        receive(InboundMessage.objects.get(pk=inbound.pk).raw.open("rb").read()).pk == inbound.pk
    )  # same bytes


@pytest.mark.django_db
def test_the_queue_follows_the_address_written_to(customer, queue):
    vip = Queue.objects.create(name="VIP", code="vip", email_address="vip@kehu.example")
    receive(message(to="vip@kehu.example"), to=["vip@kehu.example"])
    assert Ticket.objects.get().queue == vip


@pytest.mark.django_db
def test_replies_thread_by_message_id_and_by_token_from_participants_only(
    customer, queue, agent, django_capture_on_commit_callbacks
):
    receive(message())
    ticket = Ticket.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        reply = conversation.ticket_reply(ticket=ticket, body="请发照片", by=agent, then_status="pending")
    sent = django_mail.outbox[-1]
    assert sent.extra_headers["Message-ID"] == TicketMessage.objects.get(pk=reply.pk).message_id
    # the customer's client answers the reply: In-Reply-To names our Message-ID; the subject has no token
    receive(message(subject="回复：照片", In_Reply_To=reply.message_id, References=reply.message_id))
    ticket.refresh_from_db()
    assert ticket.status == "open" and ticket.messages.filter(kind=MessageKind.CUSTOMER).count() == 2
    # a new message quoting only the token: accepted from a participant...
    receive(message(subject=f"补充 {ticket.reference}", body="序列号 SN-0001"))
    assert Ticket.objects.count() == 1 and ticket.messages.filter(kind=MessageKind.CUSTOMER).count() == 3
    # ...but a stranger naming the token opens a ticket of their own, not linked to anyone
    receive(
        message(subject=f"Re: {ticket.reference}", sender="attacker@evil.example"),
        envelope_from="attacker@evil.example",
    )
    assert Ticket.objects.count() == 2
    stranger = Ticket.objects.exclude(pk=ticket.pk).get()
    assert (
        stranger.customer is None and "not part of that ticket" in stranger.messages.get(kind="system").body
    )


@pytest.mark.django_db
def test_spoofed_forwarded_and_shared_addresses_are_never_linked(customer, queue, owner_rep, settings):
    # From says the customer, the envelope says otherwise: not trusted
    receive(message(subject="改一下收款账号"), envelope_from="bounce@evil.example")
    spoofed = Ticket.objects.get()
    assert spoofed.customer is None
    assert "not verified" in spoofed.messages.get(kind="system").body
    # our own receiving server vouches for the From domain: trusted
    settings.KEHU_INBOUND_AUTHSERV_ID = "mx.kehu.example"
    receive(
        message(
            subject="经过 DMARC 验证",
            Authentication_Results="mx.kehu.example; dmarc=pass (p=reject) header.from=hongda.example.cn",
        ),
        envelope_from="bounces+123@mailer.example.net",
    )
    assert Ticket.objects.get(subject="经过 DMARC 验证").customer == customer
    # a forward names the customer in the body: never trusted to pick the customer
    receive(
        message(
            subject="Fwd: 设备故障", body="---------- Forwarded message ---------\nFrom: boss@other.example"
        )
    )
    assert Ticket.objects.get(subject="Fwd: 设备故障").customer is None
    # two customers hold the address (duplicates): no guess
    customer_services.customer_create(
        data={"name": "上海宏达机械（重复）", "email": CUSTOMER_EMAIL}, by=owner_rep
    )
    receive(message(subject="哪个客户？"))
    shared = Ticket.objects.get(subject="哪个客户？")
    assert shared.customer is None and "2 customers" in shared.messages.get(kind="system").body


def gbk_raw_subject_message() -> bytes:
    """8-bit GBK in the Subject and body without any RFC 2047 encoding (old Chinese mail clients)."""
    return (
        b"From: " + CUSTOMER_EMAIL.encode() + b"\r\nTo: support@kehu.example\r\n"
        b"Subject: " + "打印机无法打印".encode("gbk") + b"\r\nMessage-ID: <gbk-1@hongda.example.cn>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=x-unknown-foo\r\n\r\n"
        + "请派工程师上门。".encode("gbk")
        + b"\r\n"
    )


def encoded_word_message() -> bytes:
    subject = Header("售后服务请求：𠀀 生僻字", "gb18030").encode()
    odd = "=?x-gbk?B?" + base64.b64encode("未知字符集".encode("gbk")).decode() + "?="
    return (
        f"From: =?gb2312?B?{base64.b64encode('张先生'.encode('gb2312')).decode()}?= <{CUSTOMER_EMAIL}>\r\n"
        f"To: support@kehu.example\r\nSubject: {subject} {odd}\r\nMessage-ID: <ew-1@hongda.example.cn>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=gb18030\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.b64encode("内容：𠀀".encode("gb18030")).decode()
        + "\r\n"
    ).encode("ascii")


def malformed_mime_message() -> bytes:
    return (
        b"From: " + CUSTOMER_EMAIL.encode() + b"\r\nTo: support@kehu.example\r\nSubject: broken\r\n"
        b"Message-ID: <broken-1@hongda.example.cn>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="never-closed"\r\n\r\n'
        b"--never-closed\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"5Lit5paH!!!not base64===\r\n--never-closed\r\nContent-Type: application/pdf\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''%E6%8A%A5%E5%91%8A.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n"
    )


def big_attachment_message(size=20 * 1024 * 1024) -> EmailMessage:
    msg = message(subject="现场视频", body="视频见附件")
    msg.add_attachment(b"\x00" * size, maintype="video", subtype="mp4", filename="现场.mp4")
    return msg


@pytest.mark.django_db
def test_hard_mail_does_not_crash_and_the_poisoned_is_quarantined_while_the_rest_flow(
    customer, queue, settings
):
    settings.KEHU_ATTACHMENT_MAX_BYTES = 25 * 1024 * 1024
    bad_sender = message(subject="no sender", sender="not an address")
    del bad_sender["From"]
    batch = [
        ("gbk", gbk_raw_subject_message()),
        ("ew", encoded_word_message()),
        ("poison", message(subject="毒", sender=f"{'x' * 260}@hongda.example.cn").as_bytes()),
        ("malformed", malformed_mime_message()),
        ("nosender", bad_sender.as_bytes()),
        ("auto", message(subject="Out of office", Auto_Submitted="auto-replied").as_bytes()),
        ("big", big_attachment_message().as_bytes()),
        ("exe", _with_exe()),
        ("last", message(subject="最后一封").as_bytes()),
    ]
    results = {
        name: inbound_receive(raw=raw, envelope_from=CUSTOMER_EMAIL, envelope_to=["support@kehu.example"])
        for name, raw in batch
    }
    status = {name: (r.status, r.reason) for name, r in results.items()}
    for name in ("gbk", "ew", "malformed", "big", "exe", "last"):
        assert status[name][0] == InboundStatus.PROCESSED, (name, status[name])
    for name in ("poison", "nosender", "auto"):
        assert status[name][0] == InboundStatus.QUARANTINED and status[name][1], (name, status[name])
    assert "requester_email" in status["poison"][1] or "email" in status["poison"][1].lower()
    assert "automatic reply" in status["auto"][1]
    by_id = {t.subject: t for t in Ticket.objects.all()}
    assert "打印机无法打印" in by_id and "请派工程师上门" in by_id["打印机无法打印"].messages.first().body
    ew = next(t for s, t in by_id.items() if s.startswith("售后服务请求"))
    assert "𠀀" in ew.subject and "未知字符集" in ew.subject and "内容：𠀀" in ew.messages.first().body
    assert ew.requester_name == "张先生"
    broken = by_id["broken"]
    assert broken.customer == customer
    assert TicketAttachment.objects.filter(ticket=broken, filename="报告.pdf").exists()
    assert "malformed" in broken.messages.get(kind="system").body
    video = TicketAttachment.objects.get(filename="现场.mp4")
    assert video.size == 20 * 1024 * 1024 and video.content_type == "video/mp4"
    exe_ticket = by_id["安装程序"]
    assert not exe_ticket.attachments.exists() and "not kept" in exe_ticket.messages.first().body
    assert "最后一封" in by_id
    # the raw message of a quarantined mail is kept for a look (or a replay)
    poison = results["poison"]
    assert poison.raw.open("rb").read().startswith(b"From:") and poison.subject == "毒"


def _with_exe() -> bytes:
    msg = message(subject="安装程序", body="见附件")
    msg.add_attachment(
        b"MZ" + b"\x00" * 100, maintype="application", subtype="octet-stream", filename="setup.exe"
    )
    return msg.as_bytes()


@pytest.mark.django_db
def test_parser_reads_what_it_can():
    parsed = mailparse.parse(b"\xff\xfe garbage without headers")
    assert parsed.from_address == "" and isinstance(parsed.body, str)
    assert mailparse.decode_header_value("=?unknown-8bit?Q?=E4=B8=AD?=") == "中"
    assert mailparse.decode_header_value("=?bogus-charset?B?5Lit5paH?=") == "中文"  # UTF-8 bytes
    assert mailparse.html_to_text("<p>您好</p><script>x()</script><p>谢谢</p>") == "您好\n\n谢谢"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.django_db(transaction=True)
def test_mail_sent_over_smtp_to_the_receiver_becomes_tickets(customer, queue):
    from kehu.service.smtpd import controller

    receiver = controller(host="127.0.0.1", port=free_port())
    receiver.start()
    try:
        with smtplib.SMTP("127.0.0.1", receiver.port, timeout=30) as client:
            client.send_message(
                message(subject="通过 SMTP 报修"), from_addr=CUSTOMER_EMAIL, to_addrs=["support@kehu.example"]
            )
            client.send_message(
                big_attachment_message(), from_addr=CUSTOMER_EMAIL, to_addrs=["support@kehu.example"]
            )
            client.sendmail(CUSTOMER_EMAIL, ["support@kehu.example"], malformed_mime_message())
    finally:
        receiver.stop()
    deadline = time.monotonic() + 30
    while InboundMessage.objects.count() < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sorted(InboundMessage.objects.values_list("status", flat=True)) == ["processed"] * 3
    assert set(Ticket.objects.values_list("subject", flat=True)) == {"通过 SMTP 报修", "现场视频", "broken"}
    assert Ticket.objects.filter(customer=customer).count() == 3
    assert TicketAttachment.objects.get(filename="现场.mp4").size == 20 * 1024 * 1024


@pytest.mark.django_db
def test_agent_reply_goes_out_over_real_smtp(
    customer, queue, agent, smtp_settings, django_capture_on_commit_callbacks
):
    receive(message())
    ticket = Ticket.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        reply = conversation.ticket_reply(
            ticket=ticket, body="工程师明天上门", by=agent, cc=["boss@hongda.example.cn"]
        )
    reply.refresh_from_db()
    assert reply.delivery_status == "sent"
    recipients, content = smtp_settings.messages[-1]
    assert sorted(recipients) == ["boss@hongda.example.cn", CUSTOMER_EMAIL]
    sent = mailparse.parse(content.encode("utf-8"))
    assert sent.subject == f"Re: 设备故障 [#KH-{ticket.pk}]" and sent.body.strip() == "工程师明天上门"
    first = TicketMessage.objects.filter(ticket=ticket, kind=MessageKind.CUSTOMER).first()
    assert sent.in_reply_to == [first.message_id] and sent.references == [first.message_id]
    tickets.ticket_set_status(ticket=ticket, status="resolved", by=agent)
