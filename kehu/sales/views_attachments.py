"""Contract attachments on the contract page: upload, download, delete.

Reads go through the scoped selectors (out of scope → 404); writes through services/attachments.py (type and
size limits of the service tickets, audit, timeline). A refused upload re-renders the contract page with the
message on the file field (HTTP 400)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from kehu.core.access import Access
from kehu.core.exceptions import BusinessRuleError

from . import selectors_collections
from .models import ContractAttachment
from .services import attachments


class AttachmentForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("File"))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        # checked on the declared size before the content is read
        try:
            self.clean_name = attachments.attachment_check(name=upload.name, size=upload.size or 0)
        except ValidationError as exc:
            raise forms.ValidationError(exc.message_dict["file"]) from exc
        return upload


def attachment_context(request, contract, form: AttachmentForm | None = None) -> dict:
    """What the contract page needs for its attachments section."""
    access = Access.of(request.user)
    return {
        "attachments": list(selectors_collections.contract_attachments(user=request.user, contract=contract)),
        "attachment_form": form or AttachmentForm(),
        "can_attach": access.can("change", contract.__class__) and access.can_write_record(contract),
    }


def _contract(request, pk):
    from kehu.core.selectors import get_visible

    return get_visible(selectors_collections.contract_list(user=request.user), user=request.user, pk=pk)


class ContractAttachmentUpload(View):
    def post(self, request, pk):
        contract = _contract(request, pk)
        form = AttachmentForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                attachments.contract_attachment_add(
                    contract=contract, name=upload.name, content=upload.read(), by=request.user
                )
                messages.success(request, _("File attached."))
                return redirect(contract.get_absolute_url())
            except ValidationError as exc:
                for message in exc.message_dict.get("file", exc.messages):
                    form.add_error("file", message)
            except (BusinessRuleError, PermissionDenied) as exc:
                form.add_error("file", str(exc))
        return _detail_with_form(request, contract, form)


def _detail_with_form(request, contract, form):
    from .views_contracts import ContractDetail

    view = ContractDetail()
    view.setup(request, pk=contract.pk)
    view.attachment_form = form
    response = view.get(request, pk=contract.pk)
    response.status_code = 400
    return response


class ContractAttachmentDownload(View):
    def get(self, request, pk):
        attachment = selectors_collections.contract_attachment_visible(user=request.user, pk=pk)
        name, content_type = attachments.download_name(attachment)
        try:
            handle = attachment.file.open("rb")
        except FileNotFoundError:
            raise Http404 from None
        response = FileResponse(handle, as_attachment=True, filename=name, content_type=content_type)
        response["X-Content-Type-Options"] = "nosniff"
        return response


class ContractAttachmentDelete(View):
    def post(self, request, pk):
        attachment: ContractAttachment = selectors_collections.contract_attachment_visible(
            user=request.user, pk=pk
        )
        try:
            attachments.contract_attachment_delete(attachment=attachment, by=request.user)
            messages.success(request, _("File %(name)s removed.") % {"name": attachment.name})
        except PermissionDenied as exc:
            messages.error(request, str(exc))
        return redirect(attachment.contract.get_absolute_url())
