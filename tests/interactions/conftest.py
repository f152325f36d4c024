"""Fixtures of the interactions tests: a sales rep with own-scope rights, an account, a real SMTP server."""

from __future__ import annotations

import socket

import pytest

from kehu.core.models import ModelGrant, Scope
from kehu.customers import services as customer_services

ACTIONS = ("view", "add", "change", "delete", "transfer")


def grant_interactions(user, scope=Scope.OWN) -> None:
    role = user.roles.get()
    for model in ("interactions.interaction", "interactions.task"):
        ModelGrant.objects.create(
            role=role,
            model=model,
            read_scope=scope,
            write_scope=scope,
            **{f"can_{a}": True for a in ACTIONS},
        )


@pytest.fixture
def rep(make_user):
    user = make_user("customers.customer", read=Scope.OWN, write=Scope.OWN, email="rep@example.com")
    grant_interactions(user)
    return user


@pytest.fixture
def account(rep):
    return customer_services.customer_create(data={"name": "北京华信科技有限公司"}, by=rep)


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on a free local port; `sink.messages` holds (recipients, content)."""
    from aiosmtpd.controller import Controller

    class Sink:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
            self.messages.append((envelope.rcpt_tos, envelope.content.decode("utf-8", "replace")))
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield controller, sink
    controller.stop()


@pytest.fixture
def smtp_settings(settings, smtp_server):
    controller, sink = smtp_server
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    return sink
