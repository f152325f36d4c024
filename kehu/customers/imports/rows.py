"""Rows → plans: what each row of a batch will do (create, update, leave unchanged, skip) or why it cannot.

The validation is the write path's: values are coerced (choice labels in every language, dates, consent
answers, custom fields through kehu.core.customfields), a customer is built and `full_clean`ed exactly as the
record service does (normalised phones and emails, search keys), accounts and customers to update are looked
up among the customers the user may see, and duplicates are found with the dedup scorer over exact-key
candidates (phone, email, company name) fetched for the whole batch — never a full scan. Then, in file order,
each row is checked against what earlier rows of the file did (earlier.py), so the outcome does not depend on
batch boundaries or a resumed worker. The dry run and the real run share this code, so the preview says what
the run will do.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import customfields
from kehu.core.access import Access
from kehu.core.models import Tag, User
from kehu.core.selectors import scoped

from .. import identity, keys, normalize
from ..models import (
    PROFILE_FIELDS,
    Channel,
    ConsentMethod,
    ConsentStatus,
    Customer,
    Kind,
    SocialIdentity,
    Source,
)
from ..selectors import customer_list
from . import mapping, reader
from .earlier import EarlierRows
from .lookups import Duplicate, Lookups, withdrawn_by_customer

FK_CHECKED = ["owner", "account", "parent", "merged_into"]
TEXT_FIELDS = {
    "name",
    "alias",
    "city",
    "job_title",
    "industry",
    "tax_id",
    "occupation",
    "notes",
    "contact_person",
    "external_id",
}
DATE_FIELDS = {"birthday", "source_created_on"}
MAX_ADDRESS = 255
CHOICE_FIELDS = {"kind"} | {n for n in PROFILE_FIELDS if Customer._meta.get_field(n).choices}


@dataclass
class Problem:
    column: int | None  # index of the file column, None for the row as a whole
    field: str
    message: str


@dataclass
class Extras:
    phones: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    wechat: str = ""
    consent: dict[str, str] = field(default_factory=dict)
    tags: list[Tag] = field(default_factory=list)
    #: E.164 number → its extension (0512-87800562转775), for the primary and the other phones of the row
    extensions: dict[str, str] = field(default_factory=dict)
    #: an address as one text (split into province/city/district/street when written: linkage.split_address)
    address: str = ""
    postcode: str = ""  # of that address

    def __bool__(self) -> bool:
        # an extension goes with a phone the row adds: it changes nothing on its own
        return bool(self.phones or self.emails or self.wechat or self.consent or self.tags or self.address)


@dataclass
class RowPlan:
    number: int
    cells: list[str]
    action: str = ""  # create | update | unchanged | skip | error
    problems: list[Problem] = field(default_factory=list)
    values: dict = field(default_factory=dict)
    instance: Customer | None = None  # create: validated, unsaved
    existing: Customer | None = None  # update: the stored customer, at the version the plan was made from
    data: dict = field(default_factory=dict)  # update: what changes
    extras: Extras = field(default_factory=Extras)
    duplicates: list[Duplicate] = field(default_factory=list)
    note: str = ""
    matched: bool = False  # customers were found by its match keys (the match may still have failed)
    #: what of an imported row was left out (the rest applies), e.g. consent the customer withdrew
    warnings: list[Problem] = field(default_factory=list)

    def fail(self, column: int | None, field_name: str, message: str) -> None:
        self.problems.append(Problem(column, field_name, message))


class Planner(EarlierRows, Lookups):
    """Plans batches of one job's rows for its acting user; keeps what earlier rows of the run did."""

    def __init__(self, job, user) -> None:
        self.job = job
        self.user = user
        self.access = Access.of(user)
        self.options = job.options or {}
        self.mode = self.options.get("mode", "create")
        self.match_on = self.options.get("match_on", "phone_email")
        self.policy = self.options.get("duplicates", "skip")
        self.default_kind = self.options.get("default_kind", Kind.ORGANIZATION)
        self.headers = list(job.headers)
        self.mapping = list(job.mapping)
        self.columns: dict[str, list[int]] = {}
        for index, key in enumerate(self.mapping):
            if key:
                self.columns.setdefault(key, []).append(index)
        self.coerce = mapping.Coercer()
        self.definition_list = customfields.definitions(Customer)
        self.definitions = {d.key: d for d in self.definition_list}
        self.tags = {mapping._norm(t.name): t for t in Tag.objects.all()}
        self.visible = customer_list(user=user)
        self._owners: dict[str, User | str] = {}
        self._accounts: dict[str, Customer | str] = {}
        # the day/month order of each column: the user's choice, else what the file's values settle
        detected = list(getattr(job, "date_orders", None) or [])
        chosen = self.options.get("date_orders") or {}
        self.date_orders: dict[int, str] = {}
        for index in range(len(self.headers)):
            order = chosen.get(str(index)) or (detected[index] if index < len(detected) else "")
            if order in normalize.DATE_ORDERS:
                self.date_orders[index] = order
        #: how the values of choice columns are read: {target: {file value: code, '' = leave empty}}
        self.value_maps: dict[str, dict[str, str]] = self.options.get("value_maps") or {}
        #: the date forms seen per column since the last `take_formats` (shown in the preview)
        self.date_formats: dict[int, dict[str, int]] = {}
        self._init_earlier()  # what earlier rows of the file did (earlier.py)
        self.withdrawals: dict = {}  # (customer, channel) → the customer's own withdrawal (this batch)

    # ------------------------------------------------------------------------------------ helpers
    def column_of(self, field_name: str) -> int | None:
        cols = self.columns.get(field_name)
        return cols[0] if cols else None

    @staticmethod
    def quoted(message: str, raw: str) -> str:
        """A message that shows the offending value (the column is named with it: ImportIssue.text)."""
        value = normalize.clean_text(raw)
        if not value or value[:60] in message:
            return message
        shown = value if len(value) <= 60 else value[:60] + "…"
        return _("“%(value)s”: %(message)s") % {"value": shown, "message": message}

    def date(self, index: int, raw: str):
        """A date cell read in its column's day/month order; its form is counted for the preview."""
        value, code = normalize.parse_date(raw, self.date_orders.get(index, ""))
        seen = self.date_formats.setdefault(index, {})
        seen[code] = seen.get(code, 0) + 1
        return value

    def _mapped_value(self, key: str, raw: str) -> str | None:
        """What the value-mapping step says a choice cell means: a code, '' (leave empty), None (not mapped:
        read as a code or label)."""
        chosen = self.value_maps.get(key)
        if not chosen:
            return None
        if raw in chosen:
            return chosen[raw]
        text = reader.cell_text(raw)
        return chosen.get(text)

    def take_formats(self) -> dict[int, dict[str, int]]:
        formats, self.date_formats = self.date_formats, {}
        return formats

    def _field_message(self, plan: RowPlan, name: str, column: int | None, error: ValidationError) -> str:
        """A model's message about a field in the words of an import: what is too long names the field and
        quotes the value (Django's own words say "this value", in Chinese "该变量")."""
        message = " ".join(error.messages)
        if error.code == "max_length" and error.params:
            raw = plan.cells[column] if column is not None and column < len(plan.cells) else ""
            value = normalize.clean_text(raw) or str(error.params.get("value", ""))
            field = Customer._meta.get_field(name).verbose_name if name != "__all__" else ""
            return _(
                "“%(value)s” is too long for the %(field)s: %(length)d characters, at most %(limit)d."
            ) % {
                "value": value if len(value) <= 40 else value[:40] + "…",
                "field": field,
                "length": error.params.get("show_value", len(value)),
                "limit": error.params["limit_value"],
            }
        return message

    def add_errors(self, plan: RowPlan, exc: ValidationError) -> None:
        if hasattr(exc, "error_dict"):
            blank = str(models.Field.default_error_messages["blank"])
            for name, errors in exc.error_dict.items():
                column = self.column_of(name)
                messages = [self._field_message(plan, name, column, error) for error in errors]
                if len(messages) > 1:  # "cannot be blank" next to the model's own words says it twice
                    messages = [m for m in messages if m != blank]
                for message in messages:
                    plan.fail(column, name if name != "__all__" else "", message)
        else:
            for message in exc.messages:
                plan.fail(None, "", message)

    # ------------------------------------------------------------------------------------ step 1
    def parse(self, number: int, cells: list[str]) -> RowPlan:
        plan = RowPlan(number=number, cells=cells)
        if len(cells) > len(self.headers):
            extra = [c for c in cells[len(self.headers) :] if c]
            if extra:
                plan.fail(
                    None,
                    "",
                    _(
                        "This row has %(cells)d cells but the header names %(columns)d columns: the values "
                        "after the last column (%(values)s) belong to no column."
                    )
                    % {
                        "cells": len(cells),
                        "columns": len(self.headers),
                        "values": ", ".join(v[:30] for v in extra[:3]),
                    },
                )
        width = getattr(cells, "width", None)
        if width is not None and width < len(self.headers):
            missing = [self.headers[i] or reader.column_letter(i) for i in range(width, len(self.headers))]
            plan.warnings.append(
                Problem(
                    None,
                    "",
                    _(
                        "This row is short: it has %(cells)d cells but the header names %(columns)d columns, "
                        "so %(missing)s were read as empty."
                    )
                    % {
                        "cells": width,
                        "columns": len(self.headers),
                        "missing": ", ".join(f"“{m}”" for m in missing[:5])
                        + ("…" if len(missing) > 5 else ""),
                    },
                )
            )
        values = plan.values
        for index, key in enumerate(self.mapping):
            raw = cells[index] if index < len(cells) else ""
            if not key or raw == "":
                continue
            try:
                self._coerce(plan, index, key, raw)
            except ValidationError as exc:
                for message in exc.messages:
                    plan.fail(index, key, self.quoted(message, raw))
        self.check_birthday(plan)
        if plan.extras.postcode and not plan.extras.address:
            plan.warnings.append(
                Problem(
                    self.column_of("postcode"),
                    "postcode",
                    _(
                        "The postcode “%(value)s” was not imported: it is kept with an address, and this row has none."
                    )
                    % {"value": plan.extras.postcode},
                )
            )
            plan.extras.postcode = ""
        if "phone" in values:
            plan.extras.phones = [p for p in plan.extras.phones if p != values["phone"]]
        if "email" in values:
            plan.extras.emails = [e for e in plan.extras.emails if e != values["email"]]
        return plan

    def _coerce(self, plan: RowPlan, index: int, key: str, raw: str) -> None:
        values, extras = plan.values, plan.extras
        if key in TEXT_FIELDS:
            values[key] = raw
        elif key == "id":
            values["id"] = self.coerce.record_id(raw)
        elif key == "phone":
            values["phone"], extension = normalize.split_phone(raw)
            if extension:
                extras.extensions[values["phone"]] = extension
        elif key == "email":
            values["email"] = normalize.normalize_email(raw)
        elif key == "website":
            values["website"] = self.coerce.website(raw)
        elif key in DATE_FIELDS:
            values[key] = self.date(index, raw)
        elif key == "id_number":
            self._id_number(plan, index, raw)
        elif key == "address":
            street = normalize.clean_text(raw)
            if len(street) > MAX_ADDRESS:
                raise ValidationError(
                    _("An address has at most %(limit)d characters; this one has %(length)d.")
                    % {"limit": MAX_ADDRESS, "length": len(street)}
                )
            extras.address = street
        elif key == "postcode":
            code = re.sub(r"\s", "", normalize.clean_text(raw))
            if not (code.isdigit() and len(code) == 6):
                raise ValidationError(_("A Chinese postcode has 6 digits."))
            extras.postcode = code
        elif key in CHOICE_FIELDS:
            mapped = self._mapped_value(key, raw)
            if mapped is None:
                values[key] = self.coerce.choice(key, raw)
            elif mapped:
                values[key] = mapped
        elif key in ("account", "owner"):
            values[key] = normalize.clean_text(raw)
        elif key == "tags":
            for name in self.coerce.split(raw):
                tag = self.tags.get(mapping._norm(name))
                if tag is None:
                    plan.fail(
                        index,
                        key,
                        _("Unknown tag “%(tag)s”: create it under Administration → Tags first.")
                        % {"tag": name},
                    )
                elif tag not in extras.tags:
                    extras.tags.append(tag)
        elif key == "extra_phone":
            for part in self.coerce.split(raw):
                number, extension = normalize.split_phone(part)
                if number not in extras.phones:
                    extras.phones.append(number)
                if extension:
                    extras.extensions.setdefault(number, extension)
        elif key == "extra_email":
            for part in self.coerce.split(raw):
                email = normalize.normalize_email(part)
                if email not in extras.emails:
                    extras.emails.append(email)
        elif key == "wechat":
            handle = normalize.clean_text(raw)
            if len(handle) > 120:
                raise ValidationError(_("A WeChat id has at most 120 characters."))
            extras.wechat = handle
        elif key.startswith("consent."):
            extras.consent[key.split(".", 1)[1]] = self.coerce.consent(raw)
        elif key.startswith("custom."):
            definition = self.definitions.get(key[7:])
            if definition is None:
                raise ValidationError(_("This custom field no longer exists."))
            if definition.field_type == "date":
                raw = self.date(index, raw)
            elif definition.field_type == "choice":
                mapped = self._mapped_value(key, raw)
                if mapped == "":
                    return  # the user chose to leave this value empty
                raw = mapped or raw
            values.setdefault("custom", {})[definition.key] = self.coerce.custom(definition, raw)

    def _id_number(self, plan: RowPlan, index: int, raw: str) -> None:
        """A resident ID number: validated (GB 11643 check digit, date), kept only as hash + masked form. An
        error quotes the masked number — the import's issues are stored, the clear number never is. A number
        already masked by the exporting system (110101********1234) is left out with a warning: the rest of
        the row is imported."""
        if identity.is_masked(raw):
            shown = identity.mask(re.sub(r"\s", "", normalize.clean_text(raw)))
            plan.warnings.append(
                Problem(
                    index,
                    "id_number",
                    _(
                        "“%(value)s”: this ID number is masked (digits replaced by *), so it can be neither "
                        "checked nor matched; it was left out and the rest of the row imported."
                    )
                    % {"value": shown},
                )
            )
            return
        try:
            number = identity.clean_id_number(raw)
        except ValidationError as exc:
            shown = identity.mask(re.sub(r"\s", "", normalize.clean_text(raw)))
            for message in exc.messages:
                plan.fail(
                    index, "id_number", _("“%(value)s”: %(message)s") % {"value": shown, "message": message}
                )
            return
        plan.values["id_number_hash"] = identity.digest(number)
        plan.values["id_number_masked"] = identity.mask(number)
        plan.values["_id_birthday"] = identity.birth_date(number)

    def check_birthday(self, plan: RowPlan) -> None:
        """The date of birth of a row with an ID number: the one the number contains. A different one in the
        row is an error naming both columns; none in the row is taken from the number (for a customer who
        has none)."""
        born = plan.values.get("_id_birthday")
        given = plan.values.get("birthday")
        if born and given and given != born:
            plan.fail(
                self.column_of("birthday"),
                "birthday",
                _(
                    "The date of birth %(given)s differs from the one in the ID number of column “%(column)s” "
                    "(%(born)s)."
                )
                % {
                    "given": given.isoformat(),
                    "born": born.isoformat(),
                    "column": column_label(self.headers, self.column_of("id_number")),
                },
            )

    # ------------------------------------------------------------------------------------ step 3
    def plan(self, rows: list[tuple[int, list[str]]]) -> list[RowPlan]:
        """Plan a batch: lookups for the whole batch first, then each row on its own (the customer it
        updates, or a new one, built and validated), then — in file order — the checks against earlier rows
        and duplicates, and what the row means for the rows after it."""
        plans = [self.parse(number, cells) for number, cells in rows]
        self._resolve_owners(plans)
        self._resolve_accounts(plans)
        matches = self._match_candidates(plans) if self.mode != "create" else {}
        if self.mode == "create" and self.policy == "allow":
            self._earlier_holders(plans)  # rows of earlier batches with the same phone or email (earlier.py)
        existing: dict[int, Customer] = {}
        writable: set[int] = set()
        if matches:
            wanted = set().union(*matches.values())
            existing = {
                c.pk: c
                # by id only: no join (with fresh, not yet analysed rows PostgreSQL would nest-loop a join to
                # the account over the whole table) and no ordering; owner/account are compared by id
                for c in self.visible.filter(pk__in=wanted)
                .order_by()
                .prefetch_related("tags", "phones", "emails", "social_ids", "addresses")
            }
            writable = set(
                scoped(Customer.objects.filter(pk__in=wanted), user=self.user, mode="write").values_list(
                    "pk", flat=True
                )
            )
            self._load_earlier(wanted)
        grants = any(ConsentStatus.GRANTED in p.extras.consent.values() for p in plans)
        self.withdrawals = withdrawn_by_customer(existing) if grants else {}
        handles = {p.extras.wechat for p in plans if p.extras.wechat}
        taken = (
            dict(
                SocialIdentity.objects.filter(
                    network=SocialIdentity.Network.WECHAT, handle__in=handles
                ).values_list("handle", "customer_id")
            )
            if handles
            else {}
        )
        self._load_earlier(taken.values())
        targets: dict[int, Customer | None] = {}
        for plan in plans:
            for ref_field, cache in (("owner", self._owners), ("account", self._accounts)):
                if ref_field in plan.values:
                    found = cache[plan.values[ref_field]]
                    if isinstance(found, str):
                        plan.fail(self.column_of(ref_field), ref_field, found)
                        del plan.values[ref_field]
                    else:
                        plan.values[ref_field] = found
            target = targets[plan.number] = self._target(plan, matches, existing, writable)
            if not plan.problems:
                if target is not None:
                    self._build_update(plan, target)
                elif self.mode != "update" and not plan.matched:
                    self._build_new(plan)
        creates = [p for p in plans if p.action == "create" and not p.problems]
        index, profiles = self._duplicate_index(creates) if self.policy != "allow" else ({}, {})
        for plan in plans:
            target = targets[plan.number]
            self._check_earlier(plan, target)
            self._check_wechat(plan, taken, target)
            if plan.action == "create" and not plan.problems and self.policy != "allow":
                found = self._duplicates_of(plan, index, profiles)
                if found and self.policy == "skip":
                    plan.action, plan.note = "skip", self.describe(found[0])
                else:
                    plan.duplicates = found
                if not found:
                    self._check_cross_kind(plan, index, profiles)
            if plan.problems:
                plan.action = "error"
            self._remember(plan, target)
        return plans

    def _target(self, plan, matches, existing, writable) -> Customer | None:
        """The customer a row updates among those the user may see (None: none found, or a new one);
        records a problem when it cannot be told or not be changed."""
        if self.mode == "create":
            return None
        candidates: set[int] = set()
        for key in self._match_keys(plan):
            candidates = matches.get(key, set())
            if candidates:
                break
        if not candidates:
            return None
        plan.matched = True
        if len(candidates) > 1:
            plan.fail(
                None,
                "",
                _("%(n)d customers match this row (%(ids)s): add a customer id column to choose.")
                % {"n": len(candidates), "ids": ", ".join(f"#{pk}" for pk in sorted(candidates)[:5])},
            )
            return None
        pk = next(iter(candidates))
        customer = existing.get(pk)
        if customer is None:
            plan.fail(None, "", _("The matching customer is no longer visible to you."))
            return None
        if pk not in writable:
            plan.fail(
                None,
                "",
                _("You may see “%(name)s” (#%(id)d) but not change it.") % {"name": customer.name, "id": pk},
            )
            return None
        return customer

    @staticmethod
    def _key_label(kind: str) -> str:
        return {"id": _("customer id"), "phone": _("phone"), "email": _("email")}.get(kind, kind)

    def _build_new(self, plan: RowPlan) -> None:
        values = dict(plan.values)
        values.pop("id", None)
        born = values.pop("_id_birthday", None)
        values.setdefault("birthday", born)
        custom = values.pop("custom", {})
        account = values.pop("account", None)
        owner = values.pop("owner", None)
        kind = values.pop("kind", None) or (Kind.PERSON if account is not None else self.default_kind)
        instance = Customer(kind=kind, **values)
        if account is not None:
            instance.account = account
        instance.owner = owner or self.user
        if not instance.source:
            instance.source = Source.IMPORT
        try:
            instance.custom = customfields.clean_values(Customer, custom, defs=self.definition_list)
        except ValidationError as exc:
            self.add_errors(plan, exc)
        if plan.extras.consent:
            instance.consent = self._consent({}, plan.extras.consent)
        try:
            # owner and account were looked up by the planner (active user; organisation the user may see)
            instance.full_clean(exclude=FK_CHECKED, validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            self.add_errors(plan, exc)
        if plan.problems:
            return
        if plan.extras.phones or plan.extras.emails:  # clean() computed the keys from the primary ones
            keys.refresh(
                instance,
                phones=sorted({x for x in [instance.phone, *plan.extras.phones] if x}),
                emails=sorted({x for x in [instance.email, *plan.extras.emails] if x}),
            )
        plan.instance = instance
        plan.action = "create"

    def _build_update(self, plan: RowPlan, customer: Customer) -> None:
        values = dict(plan.values)
        values.pop("id", None)
        born = values.pop("_id_birthday", None)
        if born and "birthday" not in values and customer.birthday is None:
            values["birthday"] = born  # the ID number's date of birth for a customer who has none
        custom = values.pop("custom", None)
        data: dict = {}
        # a phone or email the customer already has (as another contact point) changes nothing
        if values.get("phone") in {customer.phone, *(x.number for x in customer.phones.all())}:
            values.pop("phone")
        if values.get("email") in {customer.email, *(x.email for x in customer.emails.all())}:
            values.pop("email")
        for name, value in values.items():
            current = getattr(customer, name)
            if name in ("account", "owner"):
                if getattr(customer, f"{name}_id") != value.pk:
                    data[name] = value
            elif current != value:
                data[name] = value
        if custom:
            try:
                merged = customfields.clean_values(
                    Customer, custom, current=customer.custom, partial=True, defs=self.definition_list
                )
            except ValidationError as exc:
                self.add_errors(plan, exc)
                merged = customer.custom
            if merged != (customer.custom or {}):
                data["custom"] = custom
        current_tags = list(customer.tags.all())
        new_tags = [t for t in plan.extras.tags if t not in current_tags]
        if new_tags:
            data["tags"] = current_tags + new_tags
        extras = plan.extras
        extras.phones = [
            p
            for p in extras.phones
            if p != customer.phone and p not in {x.number for x in customer.phones.all()}
        ]
        extras.emails = [
            e
            for e in extras.emails
            if e != customer.email and e not in {x.email for x in customer.emails.all()}
        ]
        if extras.wechat and any(
            s.network == SocialIdentity.Network.WECHAT and s.handle == extras.wechat
            for s in customer.social_ids.all()
        ):
            extras.wechat = ""
        if extras.address and any(same_address(a, extras.address) for a in customer.addresses.all()):
            extras.address = ""  # an address the customer has changes nothing
            extras.postcode = ""
        extras.consent = {
            c: s for c, s in extras.consent.items() if (customer.consent or {}).get(c, {}).get("status") != s
        }
        for channel, status in list(extras.consent.items()):
            withdrawal = self.withdrawals.get((customer.pk, channel))
            if status == ConsentStatus.GRANTED and withdrawal is not None:
                # (a withdrawal after this plan changes the version: the update is refused as stale)
                del extras.consent[channel]
                plan.warnings.append(
                    Problem(
                        self.column_of(f"consent.{channel}"),
                        f"consent.{channel}",
                        _(
                            "Consent to %(channel)s was not imported: the customer withdrew it themselves "
                            "(%(how)s, %(date)s) and only the customer can give it again."
                        )
                        % {
                            "channel": Channel(channel).label,
                            "how": ConsentMethod(withdrawal.method).label,
                            "date": timezone.localdate(withdrawal.at).isoformat(),
                        },
                    )
                )
        extras.tags = []
        # an extension is written with a phone the row adds; a number the customer has keeps its own
        extras.extensions = {
            n: x for n, x in extras.extensions.items() if n in extras.phones or n == data.get("phone")
        }
        trial = copy.copy(customer)
        for name, value in data.items():
            if name == "custom":
                trial.custom = merged
            elif name != "tags":
                setattr(trial, name, value)
        try:
            trial.full_clean(exclude=FK_CHECKED, validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            self.add_errors(plan, exc)
        if plan.problems:
            return
        plan.existing, plan.data, plan.instance = customer, data, trial
        plan.action = "update" if data or extras else "unchanged"

    @staticmethod
    def _consent(current: dict, answers: dict[str, str]) -> dict:
        result = dict(current or {})
        at = timezone.now().isoformat()
        for channel, status in answers.items():
            result[channel] = {"status": status, "at": at, "method": ConsentMethod.IMPORT}
        return result


def column_label(headers: list[str], index: int | None) -> str:
    return mapping.column_name(headers, index) if index is not None else ""


__all__ = ["Planner", "RowPlan", "Problem", "column_label", "reader"]


def same_address(address, text: str) -> bool:
    """Is `text` (an imported one-line address) this stored address — written as one street, or split into
    province/city/district/street on an earlier import?"""
    return text in (
        address.street,
        "".join((address.province, address.city, address.district, address.street)),
    )
