"""The SMTP receiver of email-to-ticket (aiosmtpd): mail delivered to it becomes tickets.

Run it behind the organisation's mail server (which does spam filtering, SPF/DKIM/DMARC and adds an
Authentication-Results header) as the destination of the support addresses: `manage.py service_smtp`.
Each message is stored and processed in a worker thread; the SMTP answer is given after the message is
stored (250), so a crash afterwards loses nothing (it is quarantined and can be replayed).
"""

from __future__ import annotations

import logging

from aiosmtpd.controller import Controller
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connections

log = logging.getLogger(__name__)


def _ingest(raw: bytes, mail_from: str, rcpt_tos: list[str], peer) -> int:
    from .services.inbound import inbound_receive

    close_old_connections()
    try:
        inbound = inbound_receive(
            raw=raw,
            envelope_from=mail_from,
            envelope_to=rcpt_tos,
            peer=str(peer[0] if peer else ""),
            source="smtp",
        )
        return inbound.pk
    finally:
        connections.close_all()  # the receiver's worker thread holds no idle connection between messages


class TicketHandler:
    """aiosmtpd handler: accepts any recipient (the mail server in front decides what reaches us)."""

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            await sync_to_async(_ingest, thread_sensitive=True)(
                raw, envelope.mail_from, list(envelope.rcpt_tos), session.peer
            )
        except Exception:  # storage failed (disk, database): ask the sender to retry later
            log.exception("could not store an inbound message")
            return "451 Requested action aborted: local error, try again later"
        return "250 OK: queued as a ticket message"


def controller(*, host: str | None = None, port: int | None = None) -> Controller:
    return Controller(
        TicketHandler(),
        hostname=host or settings.KEHU_SMTP_RECEIVER_HOST,
        port=port if port is not None else settings.KEHU_SMTP_RECEIVER_PORT,
        data_size_limit=settings.KEHU_INBOUND_MAX_BYTES,
        decode_data=False,
    )
