"""Campaign email rendering: personalised fields, the plain-text and HTML parts, tracked links, the open pixel
and the RFC 8058 one-click unsubscribe headers. Tokens are HMACs of the message id (nothing stored, nothing to
guess); the public views in views_public.py check them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.html import escape
from django.utils.translation import gettext as _

URL_RE = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")
FIELD_RE = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
FIELDS = ("name", "first_name", "city", "company", "owner")
_SALT = "kehu.marketing.message"
_MARK = "\x00L%d\x00"
_MARK_RE = re.compile("\x00L(\\d+)\x00")


def token_for(message_id: int) -> str:
    return f"{message_id}-{salted_hmac(_SALT, str(message_id)).hexdigest()[:24]}"


def message_id_from(token: str) -> int | None:
    """The message id a token was made for, or None when the token is not ours."""
    head, _sep, _tail = token.partition("-")
    if not head.isdigit() or not constant_time_compare(token, token_for(int(head))):
        return None
    return int(head)


def links_of(body: str) -> list[str]:
    """The links of a step's text, in order; a tracked link names its index in this list."""
    return URL_RE.findall(body or "")


@dataclass(frozen=True)
class Template:
    """A send step's content prepared once per batch: links replaced by markers before personalisation, so
    that a customer's field can never become a link."""

    subject: str
    body: str
    links: tuple[str, ...]

    @classmethod
    def of(cls, subject: str, body: str) -> Template:
        links: list[str] = []

        def mark(match):
            links.append(match.group(0))
            return _MARK % (len(links) - 1)

        return cls(subject=subject, body=URL_RE.sub(mark, body or ""), links=tuple(links))


def personal_values(customer) -> dict[str, str]:
    """The personalised fields of a customer row (customer with account and owner selected)."""
    name = customer.name or ""
    owner = customer.owner
    return {
        "name": name,
        "first_name": (customer.contact_person or name).split(" ")[0],
        "city": customer.city or "",
        "company": customer.account.name if customer.account_id else name,
        "owner": (owner.get_full_name() or owner.username) if owner else "",
    }


def _fill(text: str, values: dict[str, str]) -> str:
    return FIELD_RE.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def public_url(name: str, *args) -> str:
    return settings.KEHU_BASE_URL + reverse(name, args=args)


def build(*, template: Template, message_id: int, to: str, values: dict[str, str], connection=None):
    """The EmailMultiAlternatives for one message (not sent)."""
    token = token_for(message_id)
    tracked = [public_url("marketing_public:click", token, i) for i in range(len(template.links))]
    unsubscribe = public_url("marketing_public:unsubscribe", token)
    subject = _fill(template.subject, values).replace("\n", " ").replace("\r", " ")
    body = _fill(template.body, values)
    footer = _("You receive this because you agreed to hear from us. Unsubscribe: %(url)s") % {
        "url": unsubscribe
    }
    text = _MARK_RE.sub(lambda m: tracked[int(m.group(1))], body) + "\n\n--\n" + footer
    paragraphs = []
    for para in escape(body).split("\n\n"):
        html_para = _MARK_RE.sub(
            lambda m: f'<a href="{tracked[int(m.group(1))]}">{escape(template.links[int(m.group(1))])}</a>',
            para,
        ).replace("\n", "<br>")
        paragraphs.append(f"<p>{html_para}</p>")
    pixel = public_url("marketing_public:open", token)
    html = (
        "<!doctype html><html><body>"
        + "".join(paragraphs)
        + f'<p style="color:#666;font-size:12px">{escape(_("You receive this because you agreed to hear from us."))} '
        + f'<a href="{unsubscribe}">{escape(_("Unsubscribe"))}</a></p>'
        + f'<img src="{pixel}" width="1" height="1" alt="">'
        + "</body></html>"
    )
    domain = getattr(settings, "KEHU_SERVICE_MAIL_DOMAIN", "kehu.localhost")
    email = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=getattr(settings, "KEHU_MARKETING_FROM_EMAIL", "") or settings.DEFAULT_FROM_EMAIL,
        to=[to],
        connection=connection,
        headers={
            "Message-ID": f"<kehu-campaign-{message_id}@{domain}>",
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Precedence": "bulk",
            "X-Kehu-Message": str(message_id),
        },
    )
    email.attach_alternative(html, "text/html")
    return email
