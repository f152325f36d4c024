"""The actions of workflow rules: each type validates its settings when the rule is saved, says what it would
do (dry run) and does it with the rule owner's rights (ADR 0019).

Every write goes through the record service or an app's service as the rule owner, so object rights, record
scope, field rights, locking and audit hold as for a person. Texts (titles, bodies, subjects) are templates
with ``{{ record.<field> }}``, ``{{ record.url }}`` and ``{{ rule.name }}``: a field is filled only when it is
visible to the rule owner *and* to every person who will read the text; a person who may not see the record
gets nothing (the outcome says how many were left out). Webhooks carry the fields the owner may see.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import models
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core import audit, history, records, registry
from kehu.core.access import Access
from kehu.core.models import Action, Tag, User

MAX_ACTIONS = 20
MAX_TEXT = 2000


class ActionError(Exception):
    """The action failed; the run is retried, then reported."""


class Skipped(Exception):  # noqa: N818 - an outcome, not an error
    """The action did not apply (a rule refused it, nobody may see the record): reported, not retried."""


class Deferred(Exception):  # noqa: N818 - an outcome, not an error
    """The action must wait (a send window): the run is retried at `until`."""

    def __init__(self, message: str, until: dt.datetime):
        super().__init__(message)
        self.until = until


@dataclass
class Ctx:
    rule: Any
    record: models.Model
    owner: User
    event: dict = field(default_factory=dict)
    run_id: int | None = None
    dry: bool = False

    @property
    def label(self) -> str:
        return self.record._meta.label_lower


# ------------------------------------------------------------------------------------------------ helpers
def can_see(user: User | None, record: models.Model) -> bool:
    if user is None or not user.is_active:
        return False
    model = type(record)
    access = Access.of(user)
    return (
        access.can(Action.VIEW, model) and access.filter(model._default_manager.filter(pk=record.pk)).exists()
    )


def visible_values(record: models.Model, readers: list[User]) -> dict[str, Any]:
    """The record's values as text, without any field hidden for one of `readers`."""
    model = type(record)
    hidden: set[str] = set()
    for reader in readers:
        hidden |= set(Access.of(reader).hidden_fields(model))
    # derived columns (search bags, hashes, name keys) never leave: they carry hidden fields' values
    internal = {f.name for f in model._meta.concrete_fields if history.is_internal(f)}
    values = {}
    for key, value in audit.snapshot(record).items():
        name = key.split(".", 1)[0] if key.startswith("custom.") else key
        if name in hidden or name in internal or (key.startswith("custom.") and "custom" in hidden):
            continue
        values[key] = value
    entry = registry.get(model)
    if entry and entry.url:
        values["url"] = settings.KEHU_BASE_URL + entry.url(record)
    values["id"] = record.pk
    return values


_PLACEHOLDER = re.compile(r"\{\{\s*(record|rule)\.([\w.]+)\s*\}\}")


def render(template: str, values: dict, rule) -> str:
    def fill(match: re.Match) -> str:
        scope, key = match.group(1), match.group(2)
        if scope == "rule":
            return str(rule.name) if key == "name" else ""
        value = values.get(key)
        return "" if value is None else str(value)

    return _PLACEHOLDER.sub(fill, template or "")


def record_owner(record: models.Model) -> User | None:
    entry = registry.get(type(record))
    target: Any = record
    while entry is not None and entry.via:
        target = getattr(target, entry.via)
        entry = registry.get(type(target))
    if entry is None or not entry.owner_field:
        return None
    return getattr(target, entry.owner_field)


def customer_of(record: models.Model):
    from kehu.customers.models import Customer

    if isinstance(record, Customer):
        return record
    return getattr(record, "customer", None) if hasattr(record, "customer_id") else None


def recipients(ctx: Ctx, targets) -> list[User]:
    found: list[User] = []
    for target in targets or []:
        if target == "record_owner":
            user = record_owner(ctx.record)
        elif target == "rule_owner":
            user = ctx.owner
        else:
            user = User.objects.filter(pk=int(target), is_active=True).first()
        if user is not None and user not in found:
            found.append(user)
    return found


# --------------------------------------------------------------------------------------------- validation
MAX_ID = 2**62


def _id(value) -> bool:
    """An id a database can look up (a whole number, not a boolean, within bigint)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < MAX_ID


def _text(config: dict, key: str, errors: list, path: str, required: bool = True) -> None:
    value = config.get(key, "")
    if not isinstance(value, str) or len(value) > MAX_TEXT or "\x00" in value:
        errors.append(f"{path}.{key}: " + _("Enter a text of at most %(n)d characters.") % {"n": MAX_TEXT})
    elif required and not value.strip():
        errors.append(f"{path}.{key}: " + _("This field is required."))


def _targets(config: dict, key: str, errors: list, path: str) -> None:
    value = config.get(key)
    if not isinstance(value, list) or not value:
        errors.append(
            f"{path}.{key}: " + _('Choose at least one: "record_owner", "rule_owner" or a user id.')
        )
        return
    ids = [v for v in value if not isinstance(v, str) or v not in ("record_owner", "rule_owner", "customer")]
    if any(isinstance(v, bool) or not str(v).isdigit() or len(str(v)) > 18 for v in ids):
        errors.append(
            f"{path}.{key}: " + _('Choose at least one: "record_owner", "rule_owner" or a user id.')
        )
        return
    known = set(
        User.objects.filter(pk__in=[int(v) for v in ids], is_active=True).values_list("pk", flat=True)
    )
    missing = [v for v in ids if int(v) not in known]
    if missing:
        errors.append(f"{path}.{key}: " + _("Unknown users: %(ids)s") % {"ids": missing})


def _users(config: dict, errors: list, path: str) -> None:
    value = config.get("users")
    if not isinstance(value, list) or not value or not all(_id(v) for v in value):
        errors.append(f"{path}.users: " + _("Choose at least one user (a list of user ids)."))
        return
    known = set(User.objects.filter(pk__in=value, is_active=True).values_list("pk", flat=True))
    if set(value) - known:
        errors.append(f"{path}.users: " + _("Unknown users: %(ids)s") % {"ids": sorted(set(value) - known)})


def _v_assign(config, model, errors, path):
    if not registry.get(model) or not registry.require(model).owner_field:
        errors.append(f"{path}: " + _("This record type has no owner to assign."))
    method = config.get("method")
    if method not in ("round_robin", "load", "territory"):
        errors.append(f"{path}.method: " + _('Use "round_robin", "load" or "territory".'))
    if method == "territory":
        territories = config.get("territories")
        if not isinstance(territories, dict) or not territories:
            errors.append(f"{path}.territories: " + _('Map territories to user ids, e.g. {"上海": 3}.'))
        else:
            config["users"] = sorted({v for v in territories.values() if _id(v)})
            if len(config["users"]) != len(set(territories.values())):
                errors.append(f"{path}.territories: " + _("Every territory needs a user id."))
        if not isinstance(config.get("field", "city"), str):
            errors.append(f"{path}.field: " + _("Enter a field name."))
    _users(config, errors, path)


def _v_task(config, model, errors, path):
    _text(config, "title", errors, path)
    _text(config, "notes", errors, path, required=False)
    days = config.get("due_days", 1)
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 3650:
        errors.append(
            f"{path}.due_days: " + _("Enter a number from %(low)d to %(high)d.") % {"low": 0, "high": 3650}
        )
    config.setdefault("assign_to", "record_owner")
    _targets({"to": [config["assign_to"]]}, "to", errors, path)


def _v_notify(config, model, errors, path):
    _targets(config, "to", errors, path)
    _text(config, "title", errors, path)
    _text(config, "body", errors, path, required=False)


def _v_email(config, model, errors, path):
    _targets(config, "to", errors, path)
    _text(config, "subject", errors, path)
    _text(config, "body", errors, path)
    if config.get("kind", "care") not in ("care", "leisure"):
        errors.append(
            f"{path}.kind: " + _('Use "care" or "leisure"; marketing messages go through campaigns.')
        )


def _v_sms(config, model, errors, path):
    _targets(config, "to", errors, path)
    _text(config, "body", errors, path)


def _v_update(config, model, errors, path):
    values = config.get("values")
    if not isinstance(values, dict) or not values:
        errors.append(f"{path}.values: " + _('Enter the new values, e.g. {"lifecycle_stage": "customer"}.'))
        return
    names = {f.name for f in model._meta.concrete_fields if f.editable}
    entry = registry.get(model)
    blocked = {"id", "version", "created_at", "updated_at"} | set(entry.attribution if entry else ())
    if entry and entry.owner_field:
        blocked.add(entry.owner_field)  # owners change through "assign" (the transfer right)
    for key in values:
        if key == "custom" and isinstance(values[key], dict):
            continue
        if key not in names or key in blocked:
            errors.append(f"{path}.values.{key}: " + _("Unknown or unchangeable field."))


def _v_tag(config, model, errors, path):
    if not any(f.name == "tags" for f in model._meta.many_to_many):
        errors.append(f"{path}: " + _("This record type has no tags."))
    tags = config.get("tags")
    if (
        not isinstance(tags, list)
        or not tags
        or not all(isinstance(t, str) and 0 < len(t.strip()) <= 50 for t in tags)
    ):
        errors.append(f"{path}.tags: " + _("Enter at least one tag name (at most 50 characters each)."))


def _v_segment(config, model, errors, path):
    from kehu.marketing.models import Segment, SegmentKind

    if not _has_customer(model):
        errors.append(f"{path}: " + _("This record type has no customer."))
    pk = config.get("segment")
    if not _id(pk) or not Segment.objects.filter(pk=pk, kind=SegmentKind.STATIC).exists():
        errors.append(f"{path}.segment: " + _("Choose a static segment (its id)."))


def _v_campaign(config, model, errors, path):
    from kehu.marketing.models import Campaign

    if not _has_customer(model):
        errors.append(f"{path}: " + _("This record type has no customer."))
    pk = config.get("campaign")
    if not _id(pk) or not Campaign.objects.filter(pk=pk).exists():
        errors.append(f"{path}.campaign: " + _("Choose a campaign (its id)."))


def _v_webhook(config, model, errors, path):
    url = config.get("url")
    if not isinstance(url, str) or not re.match(r"^https?://[^\s]+$", url) or len(url) > 500:
        errors.append(f"{path}.url: " + _("Enter an http or https address."))
    secret = config.get("secret")
    if not isinstance(secret, str) or len(secret) < 16:
        errors.append(f"{path}.secret: " + _("Enter a signing secret of at least 16 characters."))


def _v_approval(config, model, errors, path):
    _text(config, "note", errors, path, required=False)


def _has_customer(model) -> bool:
    from kehu.customers.models import Customer

    return model is Customer or any(
        f.name == "customer" and f.related_model is Customer for f in model._meta.concrete_fields
    )


# ----------------------------------------------------------------------------------------------- running
def _a_assign(ctx: Ctx, config: dict) -> str:
    from .models import Rule

    model = type(ctx.record)
    owner_field = registry.require(model).owner_field or "owner"
    users = list(User.objects.filter(pk__in=config["users"], is_active=True).order_by("pk"))
    if not users:
        raise Skipped(_("None of the users is active."))
    method = config["method"]
    if method == "territory":
        source = (
            customer_of(ctx.record) if not hasattr(ctx.record, config.get("field", "city")) else ctx.record
        )
        value = str(getattr(source, config.get("field", "city"), "") or "")
        user_id = config["territories"].get(value) or config["territories"].get("*")
        chosen = next((u for u in users if u.pk == user_id), None)
        if chosen is None:
            raise Skipped(_("No territory matches %(value)s.") % {"value": value or "—"})
    elif method == "load":
        counts = dict(
            model._default_manager.filter(**{f"{owner_field}__in": users})
            .values_list(owner_field)
            .annotate(n=models.Count("pk"))
            .values_list(owner_field, "n")
        )
        chosen = min(users, key=lambda u: (counts.get(u.pk, 0), u.pk))
    else:
        if ctx.dry:
            pointer = int((ctx.rule.state or {}).get("round_robin", 0))
        else:
            locked = Rule.objects.select_for_update().get(pk=ctx.rule.pk)
            pointer = int((locked.state or {}).get("round_robin", 0))
            Rule.objects.filter(pk=locked.pk).update(
                state={**(locked.state or {}), "round_robin": pointer + 1}
            )
        chosen = users[pointer % len(users)]
    if ctx.dry:
        return _("would assign to %(user)s") % {"user": chosen}
    records.lock_for_write(ctx.record, ctx.owner, Action.TRANSFER)
    records.record_owner_set(
        instance=ctx.record,
        owner=chosen,
        by=ctx.owner,
        note=_("workflow rule %(name)s") % {"name": ctx.rule.name},
    )
    return _("assigned to %(user)s") % {"user": chosen}


def _a_task(ctx: Ctx, config: dict) -> str:
    from kehu.interactions import services as interactions

    assignee = recipients(ctx, [config.get("assign_to", "record_owner")])
    if not assignee:
        raise Skipped(_("Nobody to assign the task to."))
    user = assignee[0]
    if not can_see(user, ctx.record):
        raise Skipped(_("%(user)s may not see the record.") % {"user": user})
    values = visible_values(ctx.record, [ctx.owner, user])
    title = render(config["title"], values, ctx.rule)[:200]
    if ctx.dry:
        return _("would create the task %(title)s for %(user)s") % {"title": title, "user": user}
    due = timezone.now() + dt.timedelta(days=config.get("due_days", 1))
    data = {
        "title": title,
        "notes": render(config.get("notes", ""), values, ctx.rule),
        "due_at": due,
        "owner": user,
    }
    customer = customer_of(ctx.record)
    if customer is not None:
        data["customer"] = customer
    task = interactions.task_create(data=data, by=ctx.owner)
    return _("task #%(id)s for %(user)s") % {"id": task.pk, "user": user}


def _a_notify(ctx: Ctx, config: dict) -> str:
    from kehu.core.services import notify

    sent, left_out = [], 0
    for user in recipients(ctx, config["to"]):
        if not can_see(user, ctx.record):
            left_out += 1
            continue
        values = visible_values(ctx.record, [ctx.owner, user])
        if not ctx.dry:
            notify(
                user=user,
                title=render(config["title"], values, ctx.rule),
                body=render(config.get("body", ""), values, ctx.rule),
                url=str(values.get("url", "")).removeprefix(settings.KEHU_BASE_URL),
                dedup_key=f"rule:{ctx.run_id}:{user.pk}" if ctx.run_id else "",
            )
        sent.append(str(user))
    if not sent:
        raise Skipped(_("Nobody who may see the record to notify (%(n)d left out).") % {"n": left_out})
    verb = _("would notify") if ctx.dry else _("notified")
    return f"{verb} {', '.join(sent)}" + (
        _(" (%(n)d left out: may not see the record)") % {"n": left_out} if left_out else ""
    )


def _a_email(ctx: Ctx, config: dict) -> str:
    sent, left_out = [], 0
    for target in config["to"]:
        if target == "customer":
            sent.append(_customer_email(ctx, config))
            continue
        for user in recipients(ctx, [target]):
            if not user.email or not can_see(user, ctx.record):
                left_out += 1
                continue
            values = visible_values(ctx.record, [ctx.owner, user])
            if not ctx.dry:
                send_mail(
                    render(config["subject"], values, ctx.rule)[:200],
                    render(config["body"], values, ctx.rule),
                    settings.DEFAULT_FROM_EMAIL,
                    [user.email],
                )
            sent.append(user.email)
    if not sent:
        raise Skipped(_("Nobody to email (%(n)d left out).") % {"n": left_out})
    verb = _("would email") if ctx.dry else _("emailed")
    return f"{verb} {', '.join(sent)}" + (_(" (%(n)d left out)") % {"n": left_out} if left_out else "")


def _customer_email(ctx: Ctx, config: dict) -> str:
    from kehu.marketing.services.sending import contact_check

    customer = customer_of(ctx.record)
    if customer is None:
        raise Skipped(_("The record has no customer."))
    if not can_see(ctx.owner, customer):
        raise Skipped(_("The rule owner may not see the customer."))
    now = timezone.now()
    blocked = contact_check(customer_id=customer.pk, kind=config.get("kind", "care"), now=now)
    if blocked is not None:
        _rule, reason, until = blocked
        if until is None:
            raise Skipped(_("Contact rules: %(reason)s") % {"reason": reason})
        if not ctx.dry:
            raise Deferred(
                _("Held by the contact rules until %(at)s: %(reason)s")
                % {"at": until.isoformat(), "reason": reason},
                until,
            )
        return _("would wait until %(at)s (%(reason)s)") % {"at": until.isoformat(), "reason": reason}
    values = visible_values(ctx.record, [ctx.owner])
    if ctx.dry:
        return customer.email
    send_mail(
        render(config["subject"], values, ctx.rule)[:200],
        render(config["body"], values, ctx.rule),
        settings.DEFAULT_FROM_EMAIL,
        [customer.email],
    )
    return customer.email


def _a_sms(ctx: Ctx, config: dict) -> str:
    path = getattr(settings, "KEHU_SMS_SENDER", "")
    if not path:
        raise Skipped(_("No SMS provider is configured."))
    sender = import_string(path)
    sent = []
    for user in recipients(ctx, config["to"]):
        if can_see(user, ctx.record) and getattr(user, "phone", ""):
            if not ctx.dry:
                sender(
                    to=user.phone,
                    body=render(config["body"], visible_values(ctx.record, [ctx.owner, user]), ctx.rule),
                )
            sent.append(str(user))
    if not sent:
        raise Skipped(_("Nobody to text."))
    return ", ".join(sent)


def _a_update(ctx: Ctx, config: dict) -> str:
    model = type(ctx.record)
    values = visible_values(ctx.record, [ctx.owner])
    data: dict[str, Any] = {}
    for key, value in config["values"].items():
        if key == "custom":
            data["custom"] = value
            continue
        f = model._meta.get_field(key)
        if isinstance(f, models.ForeignKey) and value not in (None, ""):
            value = f.related_model._default_manager.get(pk=value)
        elif isinstance(value, str):
            value = render(value, values, ctx.rule)
        data[key] = value
    shown = ", ".join(f"{k}={v}" for k, v in data.items())
    if ctx.dry:
        return _("would set %(values)s") % {"values": shown}
    records.record_update(instance=ctx.record, data=data, by=ctx.owner, expected_version=None,
                          note=_("workflow rule %(name)s") % {"name": ctx.rule.name})  # fmt: skip
    return _("set %(values)s") % {"values": shown}


def _a_tag(ctx: Ctx, config: dict, add: bool) -> str:
    names = [t.strip() for t in config["tags"]]
    current = list(ctx.record.tags.all())  # type: ignore[attr-defined]
    if add:
        tags = [Tag.objects.get_or_create(name=n)[0] for n in names] if not ctx.dry else []
        new = current + [t for t in tags if t not in current]
    else:
        new = [t for t in current if t.name not in names]
    if ctx.dry:
        return (_("would add %(tags)s") if add else _("would remove %(tags)s")) % {"tags": ", ".join(names)}
    records.record_update(instance=ctx.record, data={"tags": new}, by=ctx.owner, expected_version=None,
                          note=_("workflow rule %(name)s") % {"name": ctx.rule.name})  # fmt: skip
    return (_("added %(tags)s") if add else _("removed %(tags)s")) % {"tags": ", ".join(names)}


def _a_segment(ctx: Ctx, config: dict) -> str:
    from kehu.marketing.models import Segment, SegmentMember

    customer = customer_of(ctx.record)
    if customer is None:
        raise Skipped(_("The record has no customer."))
    segment = Segment.objects.get(pk=config["segment"])
    if not Access.of(ctx.owner).filter(Segment.objects.filter(pk=segment.pk), mode="write").exists():
        raise ActionError(_("The rule owner may not change the segment %(name)s.") % {"name": segment})
    if ctx.dry:
        return _("would add to %(name)s") % {"name": segment}
    SegmentMember.objects.bulk_create(
        [SegmentMember(segment=segment, customer=customer)], ignore_conflicts=True
    )
    return _("added to %(name)s") % {"name": segment}


def _a_campaign(ctx: Ctx, config: dict) -> str:
    from kehu.marketing.models import Campaign, Enrolment

    customer = customer_of(ctx.record)
    if customer is None:
        raise Skipped(_("The record has no customer."))
    campaign = Campaign.objects.get(pk=config["campaign"])
    if not Access.of(ctx.owner).filter(Campaign.objects.filter(pk=campaign.pk), mode="write").exists():
        raise ActionError(_("The rule owner may not change the campaign %(name)s.") % {"name": campaign})
    if ctx.dry:
        return _("would enrol in %(name)s") % {"name": campaign}
    Enrolment.objects.get_or_create(campaign=campaign, customer=customer, defaults={"due_at": timezone.now()})
    return _("enrolled in %(name)s (its journey applies the contact rules)") % {"name": campaign}


def webhook_body(ctx: Ctx) -> bytes:
    values = visible_values(ctx.record, [ctx.owner])
    changes = {k: v for k, v in (ctx.event.get("changes") or {}).items() if k in values}
    payload = {
        "rule": {"id": ctx.rule.pk, "name": ctx.rule.name, "version": ctx.rule.version},
        "run": ctx.run_id,
        "trigger": ctx.rule.trigger,
        "record": {"type": ctx.label, "id": ctx.record.pk, "fields": values},
        "changes": changes,
    }
    return json.dumps(payload, ensure_ascii=False, default=str, sort_keys=True).encode()


def signature(secret: str, body: bytes) -> str:
    """The older signature header of rule webhooks (X-Kehu-Signature: sha256=<HMAC of the body>), still sent
    next to the timestamped Kehu-Signature of kehu.integrations.sender (ADR 0022)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _a_webhook(ctx: Ctx, config: dict) -> str:
    from kehu.integrations import sender

    body = webhook_body(ctx)
    if ctx.dry:
        return _("would POST %(n)d bytes to %(url)s") % {"n": len(body), "url": config["url"]}
    result = sender.post(
        config["url"],
        body,
        secret=config["secret"],
        headers={"X-Kehu-Signature": signature(config["secret"], body), "X-Kehu-Run": str(ctx.run_id or "")},
    )
    if result.status is None:
        raise ActionError(_("The webhook could not be reached: %(reason)s") % {"reason": result.error})
    if not result.ok:
        raise ActionError(_("The webhook answered %(status)s.") % {"status": result.status})
    return _("HTTP %(status)s") % {"status": result.status}


def _a_approval(ctx: Ctx, config: dict) -> str:
    try:
        start = import_string("kehu.approvals.services.start_approval")
    except ImportError:
        raise Skipped(_("Approvals are not installed.")) from None
    if ctx.dry:
        return _("would start an approval")
    from kehu.core.exceptions import BusinessRuleError

    try:
        result = start(ctx.record, ctx.owner, reason=config.get("note", ""))
    except BusinessRuleError as exc:  # e.g. an approval of the record is already pending: nothing to retry
        raise Skipped(str(exc)) from None
    return _("approval %(id)s started") % {"id": getattr(result, "pk", result)}


@dataclass(frozen=True)
class ActionType:
    label: Any
    validate: Any
    run: Any


ACTIONS: dict[str, ActionType] = {
    "assign": ActionType(gettext_lazy("Assign (round-robin, load, territory)"), _v_assign, _a_assign),
    "create_task": ActionType(gettext_lazy("Create a task or reminder"), _v_task, _a_task),
    "notify": ActionType(gettext_lazy("In-app notification"), _v_notify, _a_notify),
    "email": ActionType(gettext_lazy("Send an email"), _v_email, _a_email),
    "sms": ActionType(gettext_lazy("Send a text message"), _v_sms, _a_sms),
    "update_fields": ActionType(gettext_lazy("Update fields"), _v_update, _a_update),
    "add_tag": ActionType(gettext_lazy("Add tags"), _v_tag, lambda ctx, c: _a_tag(ctx, c, True)),
    "remove_tag": ActionType(gettext_lazy("Remove tags"), _v_tag, lambda ctx, c: _a_tag(ctx, c, False)),
    "add_to_segment": ActionType(gettext_lazy("Add to a static segment"), _v_segment, _a_segment),
    "add_to_campaign": ActionType(gettext_lazy("Add to a campaign"), _v_campaign, _a_campaign),
    "webhook": ActionType(gettext_lazy("Call a webhook"), _v_webhook, _a_webhook),
    "start_approval": ActionType(gettext_lazy("Start an approval"), _v_approval, _a_approval),
}


def validate(actions, model) -> list[str]:
    """Every problem of an action list, with its path (actions[1].url: …). Normalises in place."""
    errors: list[str] = []
    if not isinstance(actions, list) or not actions:
        return [_("Add at least one action.")]
    if len(actions) > MAX_ACTIONS:
        return [_("At most %(n)d actions.") % {"n": MAX_ACTIONS}]
    for i, config in enumerate(actions):
        path = f"actions[{i}]"
        if not isinstance(config, dict) or config.get("type") not in ACTIONS:
            errors.append(f"{path}.type: " + _("Use one of: %(types)s") % {"types": ", ".join(ACTIONS)})
            continue
        ACTIONS[config["type"]].validate(config, model, errors, path)
    return errors


def run(ctx: Ctx, config: dict) -> str:
    return ACTIONS[config["type"]].run(ctx, config)
