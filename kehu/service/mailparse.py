"""Tolerant parsing of raw RFC 5322 messages for email-to-ticket.

Real mail is messy: 8-bit headers in GBK without RFC 2047 encoding, encoded words naming charsets Python does
not know (x-gbk, unknown-8bit), broken base64, missing boundaries. Nothing here raises on such input: every
decode falls back (declared charset → its superset → UTF-8 → GB18030 → Latin-1 with replacement), and what
cannot be read is reported as a defect. Only `parse` on input that is not bytes raises.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass, field
from email.header import decode_header
from email.message import Message
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

# charsets mail clients declare, mapped to the codec that reads them (supersets for Chinese mail)
CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "euc-cn": "gb18030",
    "x-euc-cn": "gb18030",
    "hz-gb-2312": "hz",
    "big5-hkscs": "big5hkscs",
    "ks_c_5601-1987": "cp949",
    "unicode-1-1-utf-7": "utf-7",
    "x-unknown": "utf-8",
    "unknown-8bit": "utf-8",
    "unknown": "utf-8",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
}
FALLBACKS = ("utf-8", "gb18030")
MESSAGE_ID = re.compile(r"<[^<>\s]{1,250}>")
FORWARD_SUBJECT = re.compile(r"^\s*(fwd?|fw|转发|轉寄|wg)\s*[:：]", re.IGNORECASE)
FORWARD_BODY = re.compile(
    r"(-{3,}\s*(forwarded message|original message|转发的邮件|原始邮件|原始郵件)\s*-{3,})|(^\s*begin forwarded message)",
    re.IGNORECASE | re.MULTILINE,
)


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, bool]:
    """Text of `data` in `charset` (or the best fallback); the flag says whether a fallback was needed."""
    name = (charset or "").strip().strip('"').lower()
    tried = []
    if name:
        tried.append(CHARSET_ALIASES.get(name, name))
    tried += [c for c in FALLBACKS if c not in tried]
    for codec in tried:
        try:
            return data.decode(codec), codec != tried[0] or not name
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("latin-1", errors="replace"), True


def decode_header_value(value) -> str:
    """A header's text: RFC 2047 encoded words in any charset, raw 8-bit bytes, folded lines."""
    if value is None:
        return ""
    if isinstance(value, email.header.Header):  # raw 8-bit bytes in a header: chunks of "unknown-8bit"
        try:
            parts = decode_header(value)
        except (ValueError, IndexError, LookupError, AssertionError):
            return _unfold(str(value))
        return _unfold("".join(_chunk(chunk, charset) for chunk, charset in parts))
    raw = str(value)
    if any("\udc80" <= ch <= "\udcff" for ch in raw):  # raw 8-bit bytes, kept as surrogates by the parser
        raw = decode_bytes(raw.encode("ascii", "surrogateescape"), None)[0]
    try:
        parts = decode_header(raw)
    except (ValueError, IndexError, LookupError, AssertionError):  # malformed encoded words
        return _unfold(raw)
    text = []
    for chunk, charset in parts:
        if isinstance(chunk, bytes):
            text.append(decode_bytes(chunk, charset)[0])
        else:
            text.append(chunk)
    return _unfold("".join(text))


def _chunk(chunk, charset) -> str:
    if isinstance(chunk, bytes):
        return decode_bytes(chunk, charset)[0]
    return chunk


def _unfold(text: str) -> str:
    return re.sub(r"\s*[\r\n]+\s*", " ", text).strip()


class _TextOfHtml(HTMLParser):
    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "blockquote", "table"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "head"):
            self._skip += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "head") and self._skip:
            self._skip -= 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextOfHtml()
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):
        return re.sub(r"<[^>]+>", " ", html)
    text = "".join(parser.parts)
    return re.sub(r"\n\s*\n\s*\n+", "\n\n", text).strip()


@dataclass
class Attachment:
    name: str
    content: bytes
    declared_type: str


@dataclass
class ParsedMail:
    subject: str = ""
    from_name: str = ""
    from_address: str = ""
    reply_to: str = ""
    sender: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    message_id: str = ""
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    body: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    auto_submitted: bool = False
    forwarded: bool = False
    authentication_results: list[str] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)


def _header(msg: Message, name: str) -> str:
    try:
        return decode_header_value(msg.get(name))
    except Exception as exc:  # noqa: BLE001 - a header we cannot read is a defect, not a crash
        return f"[unreadable {name}: {type(exc).__name__}]"


def _addresses(msg: Message, name: str) -> list[str]:
    values = [decode_header_value(v) for v in (msg.get_all(name) or [])]
    return [addr.strip().lower() for _n, addr in getaddresses(values) if "@" in addr]


def _ids(value: str) -> list[str]:
    return MESSAGE_ID.findall(value or "")


def _payload(part: Message, result: ParsedMail) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception as exc:  # noqa: BLE001 - a broken transfer encoding
        result.defects.append(f"undecodable part: {type(exc).__name__}")
        return b""
    if data is None:  # a multipart container or an undecodable payload
        raw = part.get_payload()
        return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
    return data


def _filename(part: Message) -> str:
    try:
        name = part.get_filename()
    except Exception:  # noqa: BLE001 - malformed RFC 2231 parameters
        name = None
    if name is None:
        try:
            name = part.get_param("name")
        except Exception:  # noqa: BLE001
            name = None
        if isinstance(name, tuple):  # RFC 2231 (charset, language, value)
            name = email.utils.collapse_rfc2231_value(name)
    return decode_header_value(name) if name else ""


def parse(raw: bytes) -> ParsedMail:
    """Parse a raw message without raising on malformed content."""
    if not isinstance(raw, bytes | bytearray):
        raise TypeError("raw message must be bytes")
    msg = email.message_from_bytes(bytes(raw), policy=email.policy.compat32)
    result = ParsedMail()
    result.defects += [type(d).__name__ for d in getattr(msg, "defects", [])]
    result.subject = _header(msg, "Subject")[:300]
    name, address = parseaddr(_header(msg, "From"))
    result.from_name, result.from_address = name.strip()[:200], address.strip().lower()
    result.reply_to = (parseaddr(_header(msg, "Reply-To"))[1] or "").lower()
    result.sender = (parseaddr(_header(msg, "Sender"))[1] or "").lower()
    result.to, result.cc = _addresses(msg, "To"), _addresses(msg, "Cc")
    ids = _ids(_header(msg, "Message-ID"))
    result.message_id = ids[0] if ids else ""
    result.in_reply_to = _ids(_header(msg, "In-Reply-To"))
    result.references = _ids(_header(msg, "References"))
    auto = _header(msg, "Auto-Submitted").lower()
    precedence = _header(msg, "Precedence").lower()
    result.auto_submitted = bool(
        (auto and auto != "no")
        or precedence in ("bulk", "junk", "auto_reply")
        or msg.get("X-Autoreply")
        or msg.get("X-Autorespond")
    )
    result.authentication_results = [
        decode_header_value(v) for v in (msg.get_all("Authentication-Results") or [])
    ]
    texts, htmls = [], []
    parts = msg.walk() if msg.is_multipart() else [msg]
    for part in parts:
        if part.is_multipart():
            continue
        try:
            ctype = (part.get_content_type() or "text/plain").lower()
        except Exception:  # noqa: BLE001
            ctype = "application/octet-stream"
        disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
        filename = _filename(part)
        if (
            filename
            or disposition == "attachment"
            or not (ctype.startswith("text/") or ctype == "message/rfc822")
        ):
            if ctype.startswith("multipart/"):
                continue
            data = _payload(part, result)
            result.attachments.append(
                Attachment(
                    name=filename or f"attachment.{ctype.rsplit('/', 1)[-1][:10]}",
                    content=data,
                    declared_type=ctype,
                )
            )
            continue
        data = _payload(part, result)
        try:
            charset = part.get_content_charset()
        except Exception:  # noqa: BLE001
            charset = None
        text, fallback = decode_bytes(data, charset)
        if fallback and charset:
            result.defects.append(f"charset {charset} read as a fallback")
        (htmls if ctype == "text/html" else texts).append(text)
    body = "\n\n".join(t.strip() for t in texts if t.strip())
    if not body and htmls:
        body = "\n\n".join(html_to_text(h) for h in htmls)
    result.body = body.replace("\r\n", "\n")
    result.forwarded = bool(
        FORWARD_SUBJECT.match(result.subject)
        or msg.get("Resent-From")
        or msg.get("X-Forwarded-For")
        or FORWARD_BODY.search(result.body)
    )
    return result
