"""Leads captured by import (issue #16 item 1): a CSV file (UTF-8 or GB18030, as Excel saves it in China) with
a header row; columns are recognised by their Chinese or English names. Every row is checked first, as the
record service checks a lead (field rights, field validation); if any row is refused, nothing is saved and
each problem is reported with its row number and field. Otherwise every lead is created through
`leads.lead_create` in one transaction — audited, on the assignment rules when asked (else owned by the
importer), with the first-contact SLA — and `source` is "import" unless the file says otherwise."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from kehu.core.access import Access
from kehu.core.models import Action

from ..models import Lead, LeadSource
from . import leads

MAX_ROWS = 5000
MAX_BYTES = 5 * 1024 * 1024

#: column name (lower case, spaces and underscores removed) -> lead field
COLUMNS = {
    "company": "company", "公司": "company", "公司名称": "company", "企业名称": "company", "单位": "company",
    "organisation": "company", "organization": "company", "account": "company", "客户名称": "company",
    "name": "name", "contactname": "name", "contact": "name", "fullname": "name", "姓名": "name",
    "联系人": "name",
    "jobtitle": "job_title", "title": "job_title", "职位": "job_title", "职务": "job_title",
    "phone": "phone", "mobile": "phone", "telephone": "phone", "电话": "phone", "手机": "phone",
    "手机号": "phone", "联系电话": "phone",
    "email": "email", "e-mail": "email", "邮箱": "email", "电子邮件": "email",
    "city": "city", "城市": "city",
    "source": "source", "leadsource": "source", "来源": "source", "线索来源": "source",
    "budget": "budget", "预算": "budget",
    "currency": "currency", "币种": "currency",
    "need": "need", "需求": "need",
    "notes": "notes", "note": "notes", "备注": "notes",
    "externalref": "external_ref", "externalid": "external_ref", "外部编号": "external_ref",
    "kind": "kind", "类型": "kind",
}  # fmt: skip


@dataclass
class ImportResult:
    created: list[Lead] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # "Row 3: phone: …"; empty when the file was imported
    ignored_columns: list[str] = field(default_factory=list)


def _key(header: str) -> str:
    return "".join(header.strip().lower().replace("_", "").split())


def _decode(raw: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationError(_("The file is neither UTF-8 nor GB18030 text."), code="encoding")


def _source(value: str) -> str:
    """A source by its code or its label in either language ("Trade show", "展会"…); unknown stays as given
    (and is refused by the field's own validation, with the row number)."""
    wanted = value.strip().lower()
    if not wanted:
        return LeadSource.IMPORT
    for code, label in LeadSource.choices:
        if wanted in (code, str(label).lower()):
            return code
    from django.utils import translation

    for language in ("en", "zh-hans"):
        with translation.override(language):
            for code, label in LeadSource.choices:
                if wanted == str(label).lower():
                    return code
    return value.strip()


def parse(raw: bytes) -> tuple[list[dict], list[str], list[str]]:
    """(rows as lead data, ignored column names, file-level errors)."""
    if len(raw) > MAX_BYTES:
        return [], [], [_("The file is larger than %(mb)d MB.") % {"mb": MAX_BYTES // (1024 * 1024)}]
    try:
        text = _decode(raw)
    except ValidationError as exc:
        return [], [], list(exc.messages)
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        return [], [], [_("The file is empty: the first row must name the columns.")]
    fields = [COLUMNS.get(_key(h)) for h in header]
    if not any(f in ("company", "name", "phone", "email") for f in fields):
        return [], [], [_("No column names a company, a contact name, a phone or an email.")]
    ignored = [h for h, f in zip(header, fields, strict=True) if f is None and h.strip()]
    rows = []
    for values in reader:
        if not any(v.strip() for v in values):
            continue
        data = {}
        for f, value in zip(fields, values, strict=False):
            if f is not None and value.strip():
                data[f] = value.strip()
        data["source"] = _source(data.get("source", ""))
        if "kind" not in data:
            data["kind"] = "organization" if data.get("company") else "person"
        rows.append(data)
        if len(rows) > MAX_ROWS:
            return [], ignored, [_("The file has more than %(n)d rows.") % {"n": MAX_ROWS}]
    if not rows:
        return [], ignored, [_("The file has no rows below the column names.")]
    return rows, ignored, []


def _typed(data: dict) -> dict:
    """The budget as a number ("50,000" too): the lead's own checks compare it with zero."""
    if "budget" not in data:
        return data
    try:
        budget = Decimal(data["budget"].replace(",", ""))
    except InvalidOperation:
        budget = None
    if budget is None or not budget.is_finite():
        raise ValidationError({"budget": _("Enter a number.")})
    return {**data, "budget": budget}


def _messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [f"{name}: {' '.join(msgs)}" for name, msgs in exc.message_dict.items()]
    return list(exc.messages)


def leads_import(*, raw: bytes, by, use_rules: bool = True) -> ImportResult:
    """Import the leads of a CSV file as `by` (the import right on leads): all rows or none."""
    access = Access.of(by)
    if not (access.can(Action.IMPORT, Lead) and access.can(Action.ADD, Lead)):
        raise PermissionDenied(_("You do not have the import right on leads."))
    rows, ignored, errors = parse(raw)
    result = ImportResult(ignored_columns=ignored, errors=errors)
    if errors:
        return result
    readonly = access.readonly_fields(Lead) | access.hidden_fields(Lead)
    refused = sorted({f for data in rows for f in data if f in readonly})
    if refused:
        result.errors = [
            _("You may not fill in these columns: %(fields)s.")
            % {"fields": ", ".join(str(getattr(Lead._meta.get_field(f), "verbose_name", f)) for f in refused)}
        ]
        return result
    try:
        with transaction.atomic():
            for number, data in enumerate(rows, start=2):  # row 1 names the columns
                try:
                    data = _typed(data)
                    with transaction.atomic():
                        result.created.append(leads.lead_create(data=data, by=by, use_rules=use_rules))
                except ValidationError as exc:
                    result.errors += [
                        _("Row %(row)d: %(problem)s") % {"row": number, "problem": m} for m in _messages(exc)
                    ]
            if result.errors:
                raise _Refused
    except _Refused:
        result.created = []
    return result


class _Refused(Exception):
    """Some row was refused: roll the whole import back."""
