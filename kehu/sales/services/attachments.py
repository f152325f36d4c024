"""Contract attachments: upload, delete (downloads are served by the views from the scoped selector).

The file rules are the service tickets' (kehu.service.services.attachments): the name is cleaned (no path, no
control or reserved characters), the type is decided by the extension against KEHU_ATTACHMENT_TYPES and the
size against KEHU_ATTACHMENT_MAX_BYTES, each refused with a message naming the limit on the `file` field.
Files are served as downloads with nosniff, so an allowed name cannot smuggle active content.

Rights: an attachment inherits the contract's scope (`via="contract"`); adding or removing one needs the
right to change that contract (write scope). The files of a signed, expired or terminated contract are
evidence: only a user with the delete right on contracts removes them."""

from __future__ import annotations

from functools import partial

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext as _

from kehu.core import audit, records
from kehu.core.models import Action, AuditAction
from kehu.service.services.attachments import check, clean_filename, content_type_of

from ..models import Contract, ContractAttachment, ContractStatus
from .documents import timeline

FINAL = (ContractStatus.ACTIVE, ContractStatus.EXPIRED, ContractStatus.TERMINATED)


def attachment_check(*, name: str, size: int) -> str:
    """The cleaned file name, or a ValidationError on `file` (type not allowed, too large)."""
    clean = clean_filename(name)
    try:
        check(clean, size)
    except ValidationError as exc:
        raise ValidationError({"file": exc.messages}) from exc
    return clean


def contract_attachment_add(*, contract: Contract, name: str, content: bytes, by) -> ContractAttachment:
    """Attach a file to a contract the user may change: checked (type, size), stored under
    contracts/<id>/, audited (CREATE), and shown on the customer's timeline (`sales.contract.attachment`)."""
    clean = attachment_check(name=name, size=len(content))
    with transaction.atomic():
        locked, _access = records.lock_for_write(contract, by)  # 404 outside the scope, 403 without write
        attachment = records.record_create(
            model=ContractAttachment,
            data={"contract": locked, "name": clean, "file": ContentFile(content, name=clean)},
            by=by,
        )
        timeline(
            locked,
            "sales.contract.attachment",
            _("File %(name)s attached to contract %(c)s") % {"name": clean, "c": locked.number},
            related_id=attachment.pk,
            user=by,
        )
    return attachment


def contract_attachment_delete(*, attachment: ContractAttachment, by) -> None:
    """Remove an attachment (audited DELETE; the stored file goes after the commit). Needs the change right
    on the contract; on a signed/expired/terminated contract the delete right on contracts."""
    with transaction.atomic():
        contract, access = records.lock_for_write(attachment.contract, by)
        if contract.status in FINAL and not access.can(Action.DELETE, Contract):
            raise PermissionDenied(
                _("The files of a signed contract are kept; ask someone who may delete contracts.")
            )
        locked = ContractAttachment.objects.select_for_update().filter(pk=attachment.pk).first()
        if locked is None:
            return  # removed meanwhile
        before = audit.snapshot(locked)
        storage, path = locked.file.storage, locked.file.name
        pk, text = locked.pk, str(locked)
        locked.delete()
        audit.log(
            actor=by,
            action=AuditAction.DELETE,
            model=ContractAttachment._meta.label_lower,
            object_id=pk,
            object_repr=text,
            changes={k: [v, None] for k, v in before.items() if v not in (None, "", [], {})},
        )
        timeline(
            contract,
            "sales.contract.attachment_removed",
            _("File %(name)s removed from contract %(c)s") % {"name": text, "c": contract.number},
            related_id=pk,
            user=by,
        )
        if path:
            transaction.on_commit(partial(_remove_files, storage, [path]))


def stored_files_remove_on_commit(attachments_qs) -> list[str]:
    """Schedule the removal of the stored files of `attachments_qs` (rows about to be deleted in the current
    transaction, e.g. by a contract's CASCADE) for after the commit: a rolled-back deletion keeps the files,
    and a file is never removed while a row still points at it. Returns the paths scheduled."""
    paths = [path for path in attachments_qs.values_list("file", flat=True) if path]
    if paths:
        storage = ContractAttachment._meta.get_field("file").storage
        transaction.on_commit(partial(_remove_files, storage, paths))
    return paths


def _remove_files(storage, paths: list[str]) -> None:
    for path in paths:
        try:
            storage.delete(path)
        except OSError:  # pragma: no cover - a missing file is already gone
            pass


def download_name(attachment: ContractAttachment) -> tuple[str, str]:
    """(file name, content type) a download is served with: the type from the extension, never from input."""
    return attachment.name, content_type_of(attachment.name)


__all__ = [
    "attachment_check",
    "contract_attachment_add",
    "contract_attachment_delete",
    "download_name",
    "stored_files_remove_on_commit",
]
