"""Attachments of tickets: the type and size limits every path applies (agent uploads, API, email).

The type is decided by the file name's extension against KEHU_ATTACHMENT_TYPES, never by the content type a
client or an email claims; the stored content type is derived from the extension, and files are served as
downloads (Content-Disposition: attachment, nosniff), so an allowed name cannot smuggle active content.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils.translation import gettext as _

from ..models import Ticket, TicketAttachment, TicketMessage

_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


@dataclass
class IncomingFile:
    """A file about to be attached: its name as given and its bytes."""

    name: str
    content: bytes


def clean_filename(name: str) -> str:
    """A safe file name: no path, no control or reserved characters, at most 200 characters."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip(" .")
    if not name:
        name = "attachment"
    stem, dot, ext = name.rpartition(".")
    if dot and len(ext) <= 10:
        return f"{stem[: 200 - len(ext) - 1]}.{ext}"
    return name[:200]


def extension(name: str) -> str:
    return name.rpartition(".")[2].lower() if "." in name else ""


def check(name: str, size: int) -> None:
    """Refuse a file whose type is not allowed or that is too large, with a message naming the limit."""
    ext = extension(name)
    allowed = [t.lower() for t in settings.KEHU_ATTACHMENT_TYPES]
    if ext not in allowed:
        raise ValidationError(
            _("%(name)s: files of type .%(ext)s are not accepted (allowed: %(allowed)s).")
            % {"name": name, "ext": ext or "?", "allowed": ", ".join(allowed)}
        )
    limit = settings.KEHU_ATTACHMENT_MAX_BYTES
    if size > limit:
        raise ValidationError(
            _("%(name)s is %(size).1f MB; the limit is %(limit).1f MB.")
            % {"name": name, "size": size / 1024 / 1024, "limit": limit / 1024 / 1024}
        )


def content_type_of(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def attachment_store(
    *, ticket: Ticket, message: TicketMessage | None, incoming: IncomingFile, by
) -> TicketAttachment:
    """Keep one file on a ticket (the caller holds the ticket's lock and checked the rights)."""
    name = clean_filename(incoming.name)
    check(name, len(incoming.content))
    attachment = TicketAttachment(
        ticket=ticket,
        message=message,
        filename=name,
        content_type=content_type_of(name),
        size=len(incoming.content),
        sha256=hashlib.sha256(incoming.content).hexdigest(),
        uploaded_by=by if getattr(by, "pk", None) else None,
    )
    attachment.file.save(name, ContentFile(incoming.content), save=False)
    attachment.save()
    return attachment


def from_uploads(files) -> list[IncomingFile]:
    """Uploaded files (forms, API) read into IncomingFiles; each is checked before it is read whole."""
    result = []
    for upload in files:
        check(clean_filename(upload.name), upload.size or 0)
        result.append(IncomingFile(name=upload.name, content=upload.read()))
    return result
