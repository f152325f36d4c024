"""The one webhook sender of the code base (ADR 0022): sign, guard against SSRF, POST. Subscriptions
(kehu.integrations.webhooks) and the workflow rules' webhook action (kehu.automation.actions) both use it.

Signature: header `Kehu-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the secret>`.
`verify()` is the documented helper for receivers: it refuses a signature whose timestamp is older (or newer)
than the tolerance, so a captured request cannot be replayed later.

SSRF: the host name is resolved once; every address must be public (not private, loopback, link-local,
multicast, reserved or unspecified) unless the host — name or address — is on the administrators' allowed list
(`AllowedHost`). The connection goes to the address that was checked (the Host header and TLS name stay the
host name), so a DNS answer that changes between the check and the connect (rebinding) cannot redirect it.
Redirects are not followed."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import socket
import ssl
import time
import urllib.parse
from dataclasses import dataclass

from django.utils.translation import gettext as _

TIMEOUT = 10
TOLERANCE = 300  # seconds a signature stays valid for verify()
SIGNATURE_HEADER = "Kehu-Signature"
USER_AGENT = "Kehu-Webhooks/1"


class Refused(Exception):
    """The target may not be reached (SSRF guard) or the URL is unusable: not retried into success."""


@dataclass
class Result:
    status: int | None
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


# ------------------------------------------------------------------------------------------------ signatures
def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else int(timestamp)
    mac = hmac.new(secret.encode(), str(t).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify(
    secret: str, header: str, body: bytes, *, tolerance: int = TOLERANCE, now: float | None = None
) -> bool:
    """True when `header` (the Kehu-Signature value) signs `body` under `secret` and its timestamp is within
    `tolerance` seconds of now. Copy this function into a receiver; it needs only the standard library."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - t) > tolerance:
        return False
    expected = hmac.new(secret.encode(), str(t).encode() + b"." + body, hashlib.sha256).hexdigest()
    given = [v for k, v in (item.split("=", 1) for item in header.split(",")) if k == "v1"]
    return any(hmac.compare_digest(expected, g) for g in given)


# ----------------------------------------------------------------------------------------------- SSRF guard
def _allowed_hosts() -> set[str]:
    from .models import AllowedHost

    return {h.lower() for h in AllowedHost.objects.values_list("host", flat=True)}


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
        or ip.is_unspecified or not ip.is_global
    )  # fmt: skip


def parse_url(url: str) -> urllib.parse.SplitResult:
    parts = urllib.parse.urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise Refused(_("Enter an http or https address without user name or password."))
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise Refused(_("The port of the address is not valid.")) from None
    return parts


def resolve(url: str, allowed: set[str] | None = None) -> tuple[urllib.parse.SplitResult, str]:
    """The URL's parts and the one address to connect to, checked. Raises Refused."""
    parts = parse_url(url)
    host = parts.hostname.lower()
    allowed = _allowed_hosts() if allowed is None else allowed
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise Refused(_("The host %(host)s could not be resolved.") % {"host": host}) from None
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise Refused(_("The host %(host)s could not be resolved.") % {"host": host})
    if host not in allowed:
        blocked = [a for a in addresses if not is_public(a) and a not in allowed]
        if blocked:
            raise Refused(
                _("%(host)s resolves to a private, loopback or link-local address (%(ip)s); an administrator "
                  "must allow the host first.") % {"host": host, "ip": blocked[0]}
            )  # fmt: skip
    return parts, addresses[0]


def check_url(url: str) -> None:
    """For forms: raises Refused with a message when the URL may not be used."""
    resolve(url)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host, port, address, **kwargs):
        super().__init__(host, port, **kwargs)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, port, address, **kwargs):
        super().__init__(host, port, context=ssl.create_default_context(), **kwargs)
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def open_connection(url: str, allowed: set[str] | None = None, timeout: float = TIMEOUT):
    parts, address = resolve(url, allowed)
    cls = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return cls(parts.hostname, port, address, timeout=timeout), parts


def post(
    url: str, body: bytes, *, secret: str, headers: dict | None = None, allowed: set[str] | None = None,
    connection=None, timestamp: int | None = None,
) -> Result:  # fmt: skip
    """POST `body` signed with `secret`. Never raises for network trouble: the Result says what happened.
    `connection`: a kept-alive connection from open_connection() to the same URL (the dispatcher's batches)."""
    started = time.monotonic()
    try:
        if connection is None:
            conn, parts = open_connection(url, allowed)
        else:
            conn, parts = connection
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        all_headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign(secret, body, timestamp),
            **(headers or {}),
        }
        try:
            conn.request("POST", path, body=body, headers=all_headers)
            response = conn.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            if connection is None:
                raise
            # the receiver closed the kept-alive connection meanwhile: once more on a new one (same address)
            conn.close()
            conn.request("POST", path, body=body, headers=all_headers)
            response = conn.getresponse()
        response.read(65536)
        status = response.status
        if connection is None or response.will_close:
            conn.close()
        return Result(status, "" if 200 <= status < 300 else f"HTTP {status}", _ms(started))
    except Refused as exc:
        return Result(None, str(exc)[:300], _ms(started))
    except (OSError, http.client.HTTPException) as exc:
        if connection is not None:
            connection[0].close()
        return Result(
            None, (_("Could not reach the receiver: %(reason)s") % {"reason": exc})[:300], _ms(started)
        )


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
