"""Fixtures of the marketing tests: the demo roles (kehu.core.demo.ROLES, so the demo grants are what is
tested) and customers of two reps in different departments."""

from __future__ import annotations

import pytest

from kehu.customers.models import Customer
from tests.factories import UserFactory
from tests.sales.conftest import Org, demo_role


class MarketingOrg(Org):
    def __init__(self):
        super().__init__()
        self.marketer = UserFactory(username="mkt")
        self.marketer.roles.add(demo_role("marketer"))


@pytest.fixture
def org(db):
    return MarketingOrg()


@pytest.fixture
def people(org):
    """rep1 owns two Beijing prospects and a Shanghai customer; rep3 (another department) a Beijing prospect."""
    mk = lambda name, owner, city, stage="prospect": Customer.objects.create(  # noqa: E731
        name=name, owner=owner, city=city, lifecycle_stage=stage, income_band="high"
    )
    return {
        "a": mk("北京甲公司", org.rep1, "北京"),
        "b": mk("北京乙公司", org.rep1, "北京"),
        "c": mk("上海丙公司", org.rep1, "上海", "customer"),
        "d": mk("北京丁公司", org.rep3, "北京"),
    }


BEIJING = {"match": "all", "conditions": [{"field": "region.city", "op": "in", "value": ["北京"]}]}


@pytest.fixture
def mail_sink(settings):
    """A real SMTP server (aiosmtpd) on a free local port that refuses recipients at refused.example;
    ``sink.messages`` holds (recipients, content) of what arrived. Django's SMTP backend is pointed at it."""
    import socket

    from aiosmtpd.controller import Controller

    class Sink:
        def __init__(self):
            self.messages = []

        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - hook
            if address.endswith("@refused.example"):
                return "550 no such user"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
            self.messages.append((envelope.rcpt_tos, envelope.content.decode("utf-8", "replace")))
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    yield sink
    controller.stop()
