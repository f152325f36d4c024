"""The approval engine (ADR 0018): start, decide, withdraw, delegate, remind and escalate.

Entry points for other apps (the record types' services, the workflow rules' "start an approval" action):
`start_approval(record, actor, ...)`, `approval_decide(...)` / `approval_decide_record(...)`,
`approval_withdraw(...)`, `can_decide(user, record)`, `pending_request(record)`.

Locks: a decision takes the record's row lock, then the request's (the order every writer of a request uses),
and re-reads the request and the task under them: two approvers deciding the same step at once record one
decision; the second is refused ("already decided") and writes nothing. The record type's callbacks (status of
the quote, contract, expense…) run inside that transaction under those locks, so the record and the request
never disagree."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from decimal import Decimal
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kehu.core import audit
from kehu.core.access import Access, department_subtree_ids
from kehu.core.exceptions import BusinessRuleError
from kehu.core.models import AuditAction, Department, User
from kehu.core.services import notify

from .kinds import ApprovalType, approver_resolver, resolver_wants_record, type_for
from .models import (
    ApprovalChain,
    ApprovalEvent,
    ApprovalRequest,
    ApprovalTask,
    ApproverKind,
    Delegation,
    EventKind,
    RequestStatus,
    StepMode,
    TaskStatus,
)

log = logging.getLogger(__name__)
MAX_COMMENT = 300


# ------------------------------------------------------------------------------------------ which chain
def _label(record: models.Model) -> str:
    return record._meta.label_lower


def manager_of(user: User) -> User | None:
    """The manager of the user's department, walking up past departments without one or managed by the user."""
    dept_id = user.department_id
    seen: set[int] = set()
    while dept_id and dept_id not in seen:
        seen.add(dept_id)
        row = Department.objects.filter(pk=dept_id).values("manager_id", "parent_id").first()
        if row is None:
            return None
        if row["manager_id"] and row["manager_id"] != user.pk:
            return User.objects.filter(pk=row["manager_id"], is_active=True).first()
        dept_id = row["parent_id"]
    return None


def chain_matches(
    chain: ApprovalChain, *, requester, amount: Decimal | None, discount: Decimal | None
) -> bool:
    """Every condition set on the chain holds (an unknown figure fails a condition on it)."""
    if chain.min_amount is not None and (amount is None or amount < chain.min_amount):
        return False
    if chain.max_amount is not None and (amount is None or amount >= chain.max_amount):
        return False
    if chain.min_discount is not None and (discount is None or discount < chain.min_discount):
        return False
    role_ids = {r.pk for r in chain.requester_roles.all()}
    if role_ids and (requester is None or not role_ids & set(requester.roles.values_list("pk", flat=True))):
        return False
    dept_ids = [d.pk for d in chain.requester_departments.all()]
    if dept_ids:
        if requester is None or requester.department_id is None:
            return False
        if not any(requester.department_id in department_subtree_ids(d) for d in dept_ids):
            return False
    return True


def chain_for(record: models.Model, kind: ApprovalType | None = None) -> ApprovalChain | None:
    """The first active chain of the record's type (by priority) whose conditions hold, or None."""
    kind = kind or type_for(record)
    requester = kind.requester(record)
    amount, discount = kind.amount(record), kind.discount(record)
    chains = ApprovalChain.objects.filter(model=kind.label, active=True).prefetch_related(
        "requester_roles", "requester_departments", "steps"
    )
    for chain in chains.order_by("priority", "id"):
        if chain.steps.exists() and chain_matches(
            chain, requester=requester, amount=amount, discount=discount
        ):
            return chain
    return None


#: the default chains (code, name, record type, approver kind, step name): migration 0002 creates the same
DEFAULT_CHAINS = [
    (
        "quote-discount",
        "报价折扣审批 Quote discount",
        "sales.quote",
        "discount_approver",
        "折扣审批人 Discount approver",
    ),
    (
        "contract-approval",
        "合同审批 Contract approval",
        "sales.contract",
        "discount_approver",
        "审批人 Approver",
    ),
    ("expense-approval", "费用报销审批 Expense approval", "salesmgmt.expense", "manager", "直属经理 Manager"),
    (
        "campaign-approval",
        "营销活动审批 Campaign approval",
        "marketing.campaign",
        "campaign_approver",
        "双人复核 Four eyes",
    ),
]


def ensure_default_chains() -> int:
    """Create the default chains that are missing (by code); returns how many were created."""
    from .models import ApprovalStep

    made = 0
    for code, name, model, kind, step_name in DEFAULT_CHAINS:
        chain, created = ApprovalChain.objects.get_or_create(
            code=code, defaults={"name": name, "model": model, "priority": 1000}
        )
        if created:
            ApprovalStep.objects.create(
                chain=chain, position=1, name=step_name, approver_kind=kind, mode="any"
            )
            made += 1
    return made


def default_plan(kind: ApprovalType) -> list[dict]:
    """The built-in route of a type when no chain matches (what the default chains of migration 0002 say)."""
    return [
        {
            "name": str(ApproverKind(kind.default_kind).label),
            "kind": kind.default_kind,
            "user": None,
            "role": None,
            "department": None,
            "mode": StepMode.ANY,
            "remind": None,
            "escalate": None,
        }
    ]


def requester_department_head(requester, below: int | None = None) -> User | None:
    """The head of the requester's department at one level of the tree: the department on the path from the
    root to the requester's own that sits directly below `below` (a department chosen on the step), or, when
    none is chosen, directly below the root (e.g. the head of "Sales" for a rep of "Sales > North > Key
    accounts", where "manager" would be the head of "North"). None when the requester is outside `below`, the
    department has no head, or the head is the requester (the engine then falls back to the manager)."""
    if requester is None or requester.department_id is None:
        return None
    parents = dict(Department.objects.values_list("id", "parent_id"))
    path, node, seen = [], requester.department_id, set()
    while node is not None and node not in seen:  # requester's department up to the root
        seen.add(node)
        path.append(node)
        node = parents.get(node)
    path.reverse()  # root … requester's department
    if below is None:
        target = path[1] if len(path) > 1 else path[0]
    elif below in path and path.index(below) + 1 < len(path):
        target = path[path.index(below) + 1]
    elif below == path[-1]:  # the requester works in the chosen department itself
        target = below
    else:
        return None
    head = Department.objects.filter(pk=target).values_list("manager_id", flat=True).first()
    if head is None or head == requester.pk:
        return None
    return User.objects.filter(pk=head, is_active=True).first()


def resolve_approvers(step: dict, requester, record=None) -> list[User]:
    """The users of one step of a plan, never the requester; when nobody is left, the requester's manager,
    else the superusers (so a request never waits for no one)."""
    kind = step["kind"]
    users: list[User] = []
    if kind == ApproverKind.USER:
        users = list(User.objects.filter(pk=step["user"], is_active=True))
    elif kind == ApproverKind.ROLE:
        users = list(User.objects.filter(roles__id=step["role"], is_active=True).distinct().order_by("id"))
    elif kind == ApproverKind.DEPARTMENT_HEAD:
        head = Department.objects.filter(pk=step["department"]).values_list("manager_id", flat=True).first()
        users = list(User.objects.filter(pk=head, is_active=True)) if head else []
    elif kind == ApproverKind.MANAGER:
        manager = manager_of(requester) if requester is not None else None
        users = [manager] if manager else []
    elif kind == ApproverKind.REQUESTER_DEPARTMENT_HEAD:
        dept_head = requester_department_head(requester, step.get("department"))
        users = [dept_head] if dept_head else []
    else:
        resolve = approver_resolver(kind)
        if resolve is None or requester is None:
            users = []
        elif resolver_wants_record(kind):
            users = list(resolve(requester, step, record))
        else:
            users = list(resolve(requester, step))
    rid = getattr(requester, "pk", None)
    users = [u for u in users if u.pk != rid]
    if not users and requester is not None:
        manager = manager_of(requester)
        users = [manager] if manager else []
    if not users:
        supers = User.objects.filter(is_superuser=True, is_active=True)
        users = list((supers.exclude(pk=rid) if rid is not None else supers).order_by("id"))
    return users


def delegate_of(user: User, day: dt.date) -> User | None:
    """The delegate of a user away on `day` (the latest delegation covering it; one hop, no chains)."""
    row = (
        Delegation.objects.filter(user=user, starts_on__lte=day, ends_on__gte=day, delegate__is_active=True)
        .select_related("delegate")
        .order_by("-starts_on", "-id")
        .first()
    )
    return row.delegate if row else None


# ------------------------------------------------------------------------------------------ notifications
def _tell(users: Iterable[User], title_for: Callable[[User], str], url: str, dedup_key: str) -> None:
    """In-app notification to each user, in their language and time zone, and an email after the commit."""
    from kehu.interactions.services import _user_zone

    for user in {u.pk: u for u in users if u is not None and u.is_active}.values():
        with (
            translation.override(user.language or settings.LANGUAGE_CODE),
            timezone.override(_user_zone(user)),
        ):
            title = str(title_for(user))
        if notify(user=user, title=title, url=url, dedup_key=f"{dedup_key}:{user.pk}") and user.email:
            transaction.on_commit(partial(_mail, user.email, title, settings.KEHU_BASE_URL + url))


def _mail(recipient: str, subject: str, body: str) -> None:
    try:
        send_mail(subject=subject, message=body, from_email=None, recipient_list=[recipient])
    except OSError:
        log.warning("approval notification to %s could not be sent", recipient)


def visible_figures(request: ApprovalRequest, record, user: User) -> dict[str, Any]:
    """The figures of a request the user may see (amount, discount), by the field rights of its record type."""
    kind = type_for(request.model)
    hidden = Access.of(user).hidden_fields(request.model) if not user.is_superuser else set()
    out: dict[str, Any] = {}
    if kind.amount_field and kind.amount_field not in hidden and record is not None:
        out["amount"] = kind.amount(record)
    if kind.discount_field and kind.discount_field not in hidden and record is not None:
        out["discount"] = kind.discount(record)
    return {k: v for k, v in out.items() if v is not None}


def _ask_title(request: ApprovalRequest, record, who: str, prefix: str) -> Callable[[User], str]:
    def title(user: User) -> str:
        figures = visible_figures(request, record, user)
        text = _("%(prefix)s: %(type)s %(record)s of %(rep)s") % {
            "prefix": prefix,
            "type": type_for(request.model).verbose_name,
            "record": request.title,
            "rep": who,
        }
        if "discount" in figures:
            text += " · " + _("discount %(pct)s%%") % {"pct": figures["discount"]}
        if "amount" in figures:
            text += " · " + _("amount %(amount)s") % {"amount": figures["amount"]}
        return text

    return title


def _ask(request: ApprovalRequest, record, users: list[User], prefix_fn: Callable[[], str], key: str) -> None:
    who = str(request.requester) if request.requester else "-"
    _tell(
        users,
        lambda u: _ask_title(request, record, who, str(prefix_fn()))(u),
        request.get_absolute_url(),
        key,
    )


# ------------------------------------------------------------------------------------------ start
def _create_tasks(request: ApprovalRequest, record, now: dt.datetime) -> list[ApprovalTask]:
    step = request.step_plan()
    approvers = resolve_approvers(step, request.requester, record)
    day = timezone.localdate(now)
    tasks: dict[int, ApprovalTask] = {}
    for user in approvers:
        delegate = delegate_of(user, day)
        holder = (
            delegate
            if delegate is not None and delegate.pk != getattr(request.requester, "pk", None)
            else user
        )
        if holder.pk in tasks:
            continue
        tasks[holder.pk] = ApprovalTask.objects.create(
            request=request,
            step=request.step,
            approver=holder,
            on_behalf_of=user if holder.pk != user.pk else None,
            created_at=now,
        )
        if holder.pk != user.pk:
            ApprovalEvent.objects.create(
                request=request,
                at=now,
                kind=EventKind.DELEGATED,
                actor=holder,
                on_behalf_of=user,
                step=request.step,
            )
    _ask(
        request,
        record,
        [t.approver for t in tasks.values()],
        lambda: _("Approve"),
        f"approval:{request.pk}:{request.step}",
    )
    return list(tasks.values())


def start_approval(
    record: models.Model,
    actor,
    *,
    reason: str = "",
    chain: ApprovalChain | None = None,
) -> ApprovalRequest:
    """Start the approval of `record` by `actor` (the requester is the record's owner where it has one): the
    first matching chain of its type (or `chain`; or the type's built-in route) is copied into the request,
    the first step's approvers (or their delegates) get a task and a notification, the start goes on the
    customer's timeline. Refused (BusinessRuleError) while the record has a pending request. Runs in the
    caller's transaction; the caller holds the record's lock where its own status changes with it."""
    kind = type_for(record)
    now = timezone.now()
    with transaction.atomic():
        model = type(record)
        locked = model._default_manager.select_for_update().get(pk=record.pk)
        label = _label(locked)
        if ApprovalRequest.objects.filter(
            model=label, object_id=str(locked.pk), status=RequestStatus.PENDING
        ).exists():
            raise BusinessRuleError(_("An approval of this record is already pending."), field="status")
        chain = chain or chain_for(locked, kind)
        plan = [s.as_plan() for s in chain.steps.order_by("position", "id")] if chain else default_plan(kind)
        requester = kind.requester(locked) or actor
        url = locked.get_absolute_url() if hasattr(locked, "get_absolute_url") else ""
        request = ApprovalRequest.objects.create(
            model=label,
            object_id=str(locked.pk),
            title=str(kind.title(locked))[:200],
            url=url,
            chain=chain,
            chain_name=chain.name if chain else _("Default"),
            plan=plan,
            requester=requester if getattr(requester, "pk", None) else None,
            customer=kind.customer(locked),
            reason=(reason or "").strip()[:MAX_COMMENT],
            step=1,
            step_started_at=now,
            created_at=now,
        )
        ApprovalEvent.objects.create(
            request=request, at=now, kind=EventKind.STARTED, actor=actor, step=1, comment=request.reason
        )
        audit.log(
            actor=actor,
            action=AuditAction.CREATE,
            instance=request,
            changes={"record": [None, f"{label}#{locked.pk}"], "chain": [None, request.chain_name]},
            note=_("submitted for approval"),
        )
        _create_tasks(request, locked, now)
        _timeline(request, "started", _("%(type)s %(record)s submitted for approval"), actor)
    return request


def adopt_awaiting(labels: Iterable[str] | None = None) -> dict[str, int]:
    """Give every record left "awaiting approval" without a pending request on the engine (by the code before
    it, ADR 0018) a request now: the chain that matches, its first step's approvers told, as if submitted by
    the record's requester. Idempotent (a record with a pending request is skipped). Returns the count per
    record type. Called by migration 0003 and `manage.py approvals_adopt`."""
    from .kinds import approval_types

    counts: dict[str, int] = {}
    for label, kind in sorted(approval_types().items()):
        if not kind.awaiting or (labels is not None and label not in labels):
            continue
        pending_ids = set(
            ApprovalRequest.objects.filter(model=label, status=RequestStatus.PENDING).values_list(
                "object_id", flat=True
            )
        )
        made = 0
        for record in kind.model._default_manager.filter(**kind.awaiting).order_by("pk"):
            if str(record.pk) in pending_ids:
                continue
            actor = kind.requester(record) or User.objects.filter(is_superuser=True).order_by("id").first()
            start_approval(record, actor, reason=_("Awaiting approval before the approval engine"))
            made += 1
        counts[label] = made
    return counts


def _timeline(request: ApprovalRequest, key: str, text: str, user) -> None:
    customer = request.customer
    if customer is None:
        return
    from kehu.interactions.services import timeline_event_record

    timeline_event_record(
        customer=customer,
        subject=text % {"type": type_for(request.model).verbose_name, "record": request.title},
        related_model=f"approvals.request.{key}",
        related_id=request.pk,
        url=request.url,
        user=user,
    )


# ------------------------------------------------------------------------------------------ decide
def pending_request(record: models.Model) -> ApprovalRequest | None:
    return ApprovalRequest.objects.filter(
        model=_label(record), object_id=str(record.pk), status=RequestStatus.PENDING
    ).first()


def _open_tasks_of(request: ApprovalRequest, user: User) -> list[ApprovalTask]:
    return list(
        ApprovalTask.objects.filter(request=request, step=request.step, status=TaskStatus.PENDING).filter(
            Q(approver=user) | Q(on_behalf_of=user)
        )
    )


def can_decide(user: User, record_or_request) -> bool:
    """The user holds an open task of the current step (as approver, or as the approver a delegate stands in
    for), or is a superuser; never the requester."""
    if isinstance(record_or_request, ApprovalRequest):
        request: ApprovalRequest | None = record_or_request
    else:
        request = pending_request(record_or_request)
    if request is None or request.status != RequestStatus.PENDING or not user.is_active:
        return False
    if request.requester_id == user.pk:
        return False
    return user.is_superuser or bool(_open_tasks_of(request, user))


def approval_decide_record(*, record: models.Model, approve: bool, comment: str, by) -> ApprovalRequest:
    request = pending_request(record)
    if request is None:
        raise BusinessRuleError(_("This approval request was already decided."), field="decision")
    return approval_decide(request=request, approve=approve, comment=comment, by=by)


def approval_decide(*, request: ApprovalRequest, approve: bool, comment: str, by) -> ApprovalRequest:
    """Approve or reject the current step (a rejection needs a comment). Refusals, in order: the request is
    no longer pending (BusinessRuleError), `by` holds no open task of the step and is no superuser
    (PermissionDenied), a rejection without a comment or a comment too long (ValidationError)."""
    comment = (comment or "").strip()
    kind = type_for(request.model)
    now = timezone.now()
    with transaction.atomic():
        record = kind.model._default_manager.select_for_update().filter(pk=request.object_id).first()
        current = ApprovalRequest.objects.select_for_update().get(pk=request.pk)
        if current.status != RequestStatus.PENDING:
            raise BusinessRuleError(_("This approval request was already decided."), field="decision")
        if current.requester_id == by.pk and not by.is_superuser:
            raise PermissionDenied(_("You cannot approve your own request."))
        tasks = _open_tasks_of(current, by)
        if not tasks and not by.is_superuser:
            raise PermissionDenied(_("You are not an approver of this request."))
        if not approve and not comment:
            raise ValidationError({"comment": [_("Say why you reject it.")]})
        if len(comment) > MAX_COMMENT:
            raise ValidationError({"comment": [_("At most 300 characters.")]})
        if record is not None:
            kind.check(record)
        status = TaskStatus.APPROVED if approve else TaskStatus.REJECTED
        behalf = next((t.on_behalf_of for t in tasks if t.approver_id == by.pk and t.on_behalf_of_id), None)
        if tasks:
            ApprovalTask.objects.filter(pk__in=[t.pk for t in tasks]).update(
                status=status, comment=comment, decided_at=now
            )
        else:  # a superuser decides the step in place of its approvers
            ApprovalTask.objects.create(
                request=current,
                step=current.step,
                approver=by,
                status=status,
                comment=comment,
                decided_at=now,
            )
        step = current.step_plan()
        open_left = ApprovalTask.objects.filter(request=current, step=current.step, status=TaskStatus.PENDING)
        step_done = (
            (not approve)
            or step["mode"] == StepMode.ANY
            or by.is_superuser
            or any(t.escalated for t in tasks)  # an escalation's manager decides the step alone
            or not open_left.exists()
        )
        if step_done:
            open_left.update(status=TaskStatus.CLOSED, decided_at=now)
        if not approve:
            _finish(current, record, kind, RequestStatus.REJECTED, by, behalf, comment, now)
        elif step_done and current.step >= current.step_count:
            _finish(current, record, kind, RequestStatus.APPROVED, by, behalf, comment, now)
        elif step_done:
            ApprovalEvent.objects.create(
                request=current, at=now, kind=EventKind.STEP_APPROVED, actor=by, on_behalf_of=behalf,
                step=current.step, comment=comment,
            )  # fmt: skip
            current.step += 1
            current.step_started_at = now
            current.version += 1
            current.save(update_fields=["step", "step_started_at", "version"])
            kind.on_step(record, current, by, comment)
            _create_tasks(current, record, now)
        else:
            ApprovalEvent.objects.create(
                request=current, at=now, kind=EventKind.STEP_APPROVED, actor=by, on_behalf_of=behalf,
                step=current.step, comment=comment,
            )  # fmt: skip
    request.refresh_from_db()
    return current


def _finish(request, record, kind: ApprovalType, status: str, by, behalf, comment: str, now) -> None:
    request.status = status
    request.decided_at = now
    request.version += 1
    request.save(update_fields=["status", "decided_at", "version"])
    approved = status == RequestStatus.APPROVED
    ApprovalEvent.objects.create(
        request=request,
        at=now,
        kind=EventKind.APPROVED if approved else EventKind.REJECTED,
        actor=by,
        on_behalf_of=behalf,
        step=request.step,
        comment=comment,
    )
    audit.log(
        actor=by,
        action=AuditAction.UPDATE,
        instance=request,
        changes={"status": [RequestStatus.PENDING, status]},
        note=(_("approved") if approved else _("rejected")) + (f": {comment}" if comment else ""),
    )
    if record is not None:
        (kind.on_approved if approved else kind.on_rejected)(record, request, by, comment)
    label = RequestStatus(status).label
    title, tname = request.title, kind.verbose_name
    if request.requester is not None:
        _tell(
            [request.requester],
            lambda u: (
                _("%(type)s %(record)s: %(decision)s") % {"type": tname, "record": title, "decision": label}
            ),
            request.url or request.get_absolute_url(),
            f"approval-decision:{request.pk}",
        )
    _timeline(
        request,
        status,
        _("%(type)s %(record)s approved") if approved else _("%(type)s %(record)s rejected"),
        by,
    )


def approval_withdraw(*, record: models.Model, by, note: str = "") -> ApprovalRequest | None:
    """Withdraw the record's pending request (the record was revised or taken back): its open tasks close.
    The caller holds the record's lock and has checked its own rights."""
    request = pending_request(record)
    if request is None:
        return None
    now = timezone.now()
    with transaction.atomic():
        current = ApprovalRequest.objects.select_for_update().get(pk=request.pk)
        if current.status != RequestStatus.PENDING:
            return None
        current.status = RequestStatus.WITHDRAWN
        current.decided_at = now
        current.version += 1
        current.save(update_fields=["status", "decided_at", "version"])
        ApprovalTask.objects.filter(request=current, status=TaskStatus.PENDING).update(
            status=TaskStatus.CLOSED, decided_at=now
        )
        ApprovalEvent.objects.create(
            request=current, at=now, kind=EventKind.WITHDRAWN, actor=by, comment=note
        )
        audit.log(
            actor=by,
            action=AuditAction.UPDATE,
            instance=current,
            changes={"status": [RequestStatus.PENDING, RequestStatus.WITHDRAWN]},
            note=note,
        )
    return current


# ------------------------------------------------------------------------------------------ delegation
def delegation_create(
    *, user: User, delegate: User, starts_on: dt.date, ends_on: dt.date, by, note=""
) -> Delegation:
    """A user's delegation while away (their own, or anyone's by an administrator). Open tasks of the period
    move to the delegate when it starts (see `approvals_remind_escalate`); new tasks go to the delegate."""
    if by.pk != user.pk and not (by.is_superuser or Access.of(by).can("change", Delegation)):
        raise PermissionDenied(_("You may set only your own delegation."))
    row = Delegation(
        user=user, delegate=delegate, starts_on=starts_on, ends_on=ends_on, note=(note or "")[:200]
    )
    row.full_clean()
    with transaction.atomic():
        row.save()
        audit.log(
            actor=by, action=AuditAction.CREATE, instance=row, changes=audit.diff({}, audit.snapshot(row))
        )
        _move_open_tasks(user, delegate, timezone.localdate())
    return row


def delegation_delete(*, delegation: Delegation, by) -> None:
    if by.pk != delegation.user_id and not (by.is_superuser or Access.of(by).can("change", Delegation)):
        raise PermissionDenied(_("You may set only your own delegation."))
    with transaction.atomic():
        audit.log(actor=by, action=AuditAction.DELETE, instance=delegation)
        delegation.delete()


def _move_open_tasks(user: User, delegate: User, day: dt.date) -> int:
    """Hand the user's open tasks to the delegate when a delegation covers `day`."""
    if delegate_of(user, day) is None:
        return 0
    moved = 0
    for task in ApprovalTask.objects.filter(
        approver=user, status=TaskStatus.PENDING, on_behalf_of=None
    ).select_related("request"):
        if (
            task.request.requester_id == delegate.pk
            or ApprovalTask.objects.filter(
                request_id=task.request_id, step=task.step, approver=delegate
            ).exists()
        ):
            continue
        task.approver, task.on_behalf_of = delegate, user
        task.save(update_fields=["approver", "on_behalf_of"])
        ApprovalEvent.objects.create(
            request=task.request, kind=EventKind.DELEGATED, actor=delegate, on_behalf_of=user, step=task.step
        )
        moved += 1
    return moved


# ------------------------------------------------------------------------------------------ reminders
def approvals_remind_escalate(*, now: dt.datetime | None = None, limit: int = 500) -> dict[str, int]:
    """The periodic job: remind the approvers of a step open longer than its `remind` hours (once per task),
    escalate a step open longer than its `escalate` hours (once per step: the managers of its approvers get a
    task too and are told). Idempotent: a second run in the same hour does nothing more."""
    now = now or timezone.now()
    counts = {"reminded": 0, "escalated": 0}
    rows = (
        ApprovalRequest.objects.filter(status=RequestStatus.PENDING)
        .select_related("requester")
        .order_by("step_started_at")[:limit]
    )
    for request in rows:
        step = request.step_plan()
        waited = now - request.step_started_at
        kind = type_for(request.model)
        if step.get("remind") is not None and waited >= dt.timedelta(hours=step["remind"]):
            with transaction.atomic():
                due = list(
                    ApprovalTask.objects.select_for_update().filter(
                        request=request,
                        step=request.step,
                        status=TaskStatus.PENDING,
                        reminded_at__isnull=True,
                    )
                )
                if due:
                    ApprovalTask.objects.filter(pk__in=[t.pk for t in due]).update(reminded_at=now)
                    record = kind.model._default_manager.filter(pk=request.object_id).first()
                    _ask(
                        request,
                        record,
                        [User.objects.get(pk=t.approver_id) for t in due],
                        lambda: _("Reminder"),
                        f"approval-reminder:{request.pk}:{request.step}",
                    )
                    ApprovalEvent.objects.create(
                        request=request, at=now, kind=EventKind.REMINDED, step=request.step
                    )
                    counts["reminded"] += len(due)
        if step.get("escalate") is not None and waited >= dt.timedelta(hours=step["escalate"]):
            counts["escalated"] += _escalate(request, kind, now)
    return counts


def _escalate(request: ApprovalRequest, kind: ApprovalType, now: dt.datetime) -> int:
    with transaction.atomic():
        current = ApprovalRequest.objects.select_for_update().get(pk=request.pk)
        if current.status != RequestStatus.PENDING or current.step != request.step:
            return 0
        tasks = list(
            ApprovalTask.objects.filter(request=current, step=current.step).select_related("approver")
        )
        if any(t.escalated for t in tasks):
            return 0
        holders = {t.approver_id for t in tasks}
        added: list[User] = []
        for task in tasks:
            if task.status != TaskStatus.PENDING:
                continue
            boss = (
                manager_of(task.on_behalf_of or task.approver)
                if (task.on_behalf_of or task.approver)
                else None
            )
            if boss is None or boss.pk in holders or boss.pk == current.requester_id:
                continue
            ApprovalTask.objects.create(
                request=current,
                step=current.step,
                approver=boss,
                created_at=now,
                escalated=True,
                reminded_at=now,  # the escalation's notice is its reminder
            )
            holders.add(boss.pk)
            added.append(boss)
        if not added:
            # nobody above: mark the step escalated so the job does not try again every run
            ApprovalTask.objects.filter(request=current, step=current.step).update(escalated=True)
            return 0
        ApprovalEvent.objects.create(
            request=current, at=now, kind=EventKind.ESCALATED, step=current.step,
            comment=", ".join(str(u) for u in added),
        )  # fmt: skip
        record = kind.model._default_manager.filter(pk=current.object_id).first()
        _ask(
            current, record, added, lambda: _("Escalated"), f"approval-escalation:{current.pk}:{current.step}"
        )
    return 1
