"""Campaign use cases: the plan (record service), approval before launch (by someone other than the owner),
launch (the audience enrolled in one INSERT … SELECT), pause and resume, journey steps, and the journey engine
that moves enrolled customers through send → wait → branch → task → end (ADR 0015)."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import BigIntegerField, DateTimeField, IntegerField, Value
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import audit, records
from kehu.core.models import AuditAction
from kehu.interactions.models import Task

from ..models import (
    FINAL_STATUSES,
    BranchCondition,
    Campaign,
    CampaignStatus,
    Enrolment,
    EnrolmentStatus,
    JourneyStep,
    Message,
    StepKind,
)
from ..selectors.segments import campaign_audience

RESEND_POLL = dt.timedelta(minutes=5)


def campaign_create(*, data: dict, by) -> Campaign:
    return records.record_create(model=Campaign, data=data, by=by)


def campaign_update(*, campaign: Campaign, data: dict, by, expected_version: int | None) -> Campaign:
    return records.record_update(instance=campaign, data=data, by=by, expected_version=expected_version)


def _locked(campaign: Campaign, by) -> Campaign:
    locked, _access = records.lock_for_write(campaign, by)
    return locked


def _set_status(campaign: Campaign, by, status: str, allowed: tuple[str, ...], **extra) -> Campaign:
    with transaction.atomic():
        locked = _locked(campaign, by)
        if locked.status not in allowed:
            raise ValidationError(
                _("A campaign that is “%(status)s” cannot do this.") % {"status": locked.get_status_display()}
            )
        before = locked.status
        changes: dict[str, list] = {"status": [before, status]}
        values = {"status": status, "version": locked.version + 1, "updated_at": timezone.now(), **extra}
        Campaign.objects.filter(pk=locked.pk).update(**values)
        for key, value in values.items():
            setattr(locked, key, value)
        for key, value in extra.items():
            changes[key] = [None, str(value)]
        audit.log(actor=by, action=AuditAction.UPDATE, instance=locked, changes=changes)
    campaign.status, campaign.version = locked.status, locked.version
    return locked


def campaign_submit(*, campaign: Campaign, by, reason: str = "") -> Campaign:
    """Ask for approval: needs at least one target segment and one send step. The campaign becomes "awaiting
    approval" and a request starts on the approval engine (the campaign chain that matches: by default one
    step, anyone who may change the campaign other than its owner — four eyes; kehu/marketing/approvals.py)."""
    from kehu.approvals.services import start_approval

    if not campaign.segments.exists():
        raise ValidationError(_("Choose at least one target segment."))
    if not campaign.steps.filter(kind=StepKind.SEND).exists():
        raise ValidationError(_("Add at least one email step to the journey."))
    with transaction.atomic():
        locked = _set_status(
            campaign,
            by,
            CampaignStatus.PENDING_APPROVAL,
            (CampaignStatus.DRAFT,),
            submitted_at=timezone.now(),
        )
        start_approval(locked, by, reason=reason)
    return locked


def _decide(campaign: Campaign, by, approve: bool, comment: str) -> Campaign:
    """Decide the current step of the campaign's request on the engine; the last step's approval (or any
    rejection) sets the status (kehu/marketing/approvals.py). Refusals keep their old wording: not awaiting
    approval (ValidationError), the owner deciding their own campaign (PermissionDenied)."""
    from kehu.approvals.services import approval_decide_record
    from kehu.core.exceptions import BusinessRuleError

    current = Campaign.objects.get(pk=campaign.pk)
    if current.status != CampaignStatus.PENDING_APPROVAL:
        raise ValidationError(
            _("A campaign that is “%(status)s” cannot do this.") % {"status": current.get_status_display()}
        )
    if current.owner_id == by.pk and not by.is_superuser:
        raise PermissionDenied(_("Someone other than the campaign's owner must approve it."))
    try:
        approval_decide_record(record=current, approve=approve, comment=comment, by=by)
    except BusinessRuleError as exc:
        raise ValidationError(str(exc)) from None
    current.refresh_from_db()
    campaign.status, campaign.version = current.status, current.version
    campaign.approved_by_id, campaign.approved_at = current.approved_by_id, current.approved_at
    return current


def campaign_approve(*, campaign: Campaign, by, comment: str = "") -> Campaign:
    """Approve the campaign's current approval step (an approver of that step on the engine, never the owner;
    a superuser may approve their own)."""
    return _decide(campaign, by, True, comment)


def campaign_reject(*, campaign: Campaign, by, comment: str = "") -> Campaign:
    """Send the campaign back to draft (an approver of the current step; the comment, saying why, is
    required)."""
    return _decide(campaign, by, False, comment)


def campaign_launch(*, campaign: Campaign, by) -> Campaign:
    """Start an approved campaign: its audience (the union of its segments, now) is enrolled at step 1 in one
    INSERT … SELECT; sending starts at once (the task worker) within the contact rules."""
    with transaction.atomic():
        locked = _set_status(
            campaign, by, CampaignStatus.RUNNING, (CampaignStatus.APPROVED,), launched_at=timezone.now()
        )
        count = _enrol(locked)
        audit.log(actor=by, action=AuditAction.UPDATE, instance=locked, changes={"enrolled": [None, count]})
        transaction.on_commit(_kick)
    return locked


def campaign_pause(*, campaign: Campaign, by) -> Campaign:
    """Stop sending: nothing more is claimed (messages already handed to a worker finish)."""
    return _set_status(campaign, by, CampaignStatus.PAUSED, (CampaignStatus.RUNNING,))


def campaign_resume(*, campaign: Campaign, by) -> Campaign:
    with transaction.atomic():
        locked = _set_status(campaign, by, CampaignStatus.RUNNING, (CampaignStatus.PAUSED,))
        transaction.on_commit(_kick)
    return locked


def _kick() -> None:
    from ..tasks import campaign_tick

    campaign_tick.enqueue()


def _enrol(campaign: Campaign) -> int:
    rows = (
        campaign_audience(campaign)
        .order_by()
        .annotate(
            _campaign=Value(campaign.pk, output_field=BigIntegerField()),
            _position=Value(1, output_field=IntegerField()),
            _due=Value(timezone.now(), output_field=DateTimeField()),
            _status=Value(EnrolmentStatus.ACTIVE),
        )
        .values_list("pk", "_campaign", "_position", "_due", "_due", "_status")
    )
    select_sql, params = rows.query.sql_with_params()
    table = connection.ops.quote_name(Enrolment._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (customer_id, campaign_id, position, due_at, entered_at, status) "  # noqa: S608
            f"{select_sql}",
            params,
        )
        return cursor.rowcount


# -- journey steps ---------------------------------------------------------------------------------------------

STEP_FIELDS = {
    StepKind.SEND: ("message_kind", "subject", "body"),
    StepKind.WAIT: ("wait_hours",),
    StepKind.BRANCH: ("condition", "condition_step", "yes_step", "no_step"),
    StepKind.TASK: ("task_title", "task_due_days"),
    StepKind.END: (),
}


def step_save(*, campaign: Campaign, data: dict, by, step: JourneyStep | None = None) -> JourneyStep:
    """Add or change a journey step. Allowed while draft, and while running or paused (adjust while running:
    customers already past the step are not affected). The campaign's version moves and the change is
    audited on the campaign."""
    if campaign.status in (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED):
        raise ValidationError(_("A finished campaign cannot be changed."))
    kind = data.get("kind") or (step.kind if step else "")
    if kind not in StepKind.values:
        raise ValidationError({"kind": _("Choose what the step does.")})
    with transaction.atomic():
        locked = _locked(campaign, by)
        target = step or JourneyStep(campaign=locked)
        target.kind = kind
        for name in ("position", *STEP_FIELDS[StepKind(kind)]):
            if name in data:
                setattr(target, name, data[name])
        if not target.position:
            last = locked.steps.order_by("-position").values_list("position", flat=True).first()
            target.position = (last or 0) + 1
        errors = {}
        if kind == StepKind.SEND and not (target.subject or "").strip():
            errors["subject"] = _("Give the email a subject.")
        if kind == StepKind.SEND and not (target.body or "").strip():
            errors["body"] = _("Write the message.")
        if kind == StepKind.BRANCH and target.condition not in BranchCondition.values:
            errors["condition"] = _("Choose the condition.")
        if kind == StepKind.TASK and not (target.task_title or "").strip():
            errors["task_title"] = _("Give the task a title.")
        if errors:
            raise ValidationError(errors)
        target.full_clean(exclude=["campaign"], validate_unique=False, validate_constraints=False)
        if (
            JourneyStep.objects.filter(campaign=locked, position=target.position)
            .exclude(pk=target.pk)
            .exists()
        ):
            raise ValidationError({"position": _("There is already a step with this number.")})
        target.save()
        Campaign.objects.filter(pk=locked.pk).update(version=locked.version + 1, updated_at=timezone.now())
        audit.log(
            actor=by,
            action=AuditAction.UPDATE,
            instance=locked,
            changes={f"step {target.position}": [None, target.get_kind_display()]},
        )
    return target


def step_delete(*, campaign: Campaign, step: JourneyStep, by) -> None:
    if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.PENDING_APPROVAL):
        raise ValidationError(_("Steps of a launched campaign can be changed but not removed."))
    with transaction.atomic():
        locked = _locked(campaign, by)
        step.delete()
        Campaign.objects.filter(pk=locked.pk).update(version=locked.version + 1, updated_at=timezone.now())
        audit.log(
            actor=by,
            action=AuditAction.UPDATE,
            instance=locked,
            changes={f"step {step.position}": [str(step), None]},
        )


def can_approve(user, campaign: Campaign) -> bool:
    """The user may decide the campaign's current approval step (the engine's rule: a task of the step, or a
    superuser; never the owner)."""
    from kehu.approvals.services import can_decide

    return campaign.status == CampaignStatus.PENDING_APPROVAL and can_decide(user, campaign)


# -- the journey engine ------------------------------------------------------------------------------------------


def _enter(
    steps: dict[int, JourneyStep], position: int | None, now: dt.datetime
) -> tuple[int, dt.datetime, str]:
    """(position, due, status) of a customer arriving at ``position``."""
    step = steps.get(position or 0)
    if step is None or step.kind == StepKind.END:
        return position or 0, now, EnrolmentStatus.DONE
    if step.kind == StepKind.WAIT:
        return step.position, now + dt.timedelta(hours=step.wait_hours), EnrolmentStatus.ACTIVE
    return step.position, now, EnrolmentStatus.ACTIVE


def journeys_advance(*, now: dt.datetime | None = None, limit: int = 2000) -> int:
    """Move every due enrolment of running campaigns on (repeatedly, so send → wait happens in one run).
    Enrolments are claimed with SKIP LOCKED, so several workers may run this at once. Returns moves made."""
    moved = 0
    for campaign in Campaign.objects.filter(status=CampaignStatus.RUNNING):
        steps = {s.position: s for s in campaign.steps.all()}
        for _round in range(len(steps) + 2):
            n = _advance_campaign(campaign, steps, now or timezone.now(), limit)
            moved += n
            if not n:
                break
        if not Enrolment.objects.filter(campaign=campaign, status=EnrolmentStatus.ACTIVE).exists():
            Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.RUNNING).update(
                status=CampaignStatus.COMPLETED, updated_at=timezone.now()
            )
    return moved


def _advance_campaign(campaign: Campaign, steps: dict[int, JourneyStep], now: dt.datetime, limit: int) -> int:
    with transaction.atomic():
        due = list(
            Enrolment.objects.select_for_update(skip_locked=True)
            .filter(campaign=campaign, status=EnrolmentStatus.ACTIVE, due_at__lte=now)
            .select_related("customer")
            .order_by("id")[:limit]
        )
        if not due:
            return 0
        changed: list[Enrolment] = []
        new_messages: list[Message] = []
        tasks: list[Task] = []
        by_step: dict[int, list[Enrolment]] = {}
        for e in due:
            by_step.setdefault(e.position, []).append(e)
        for position, group in by_step.items():
            step = steps.get(position)
            if step is None or step.kind == StepKind.END:
                for e in group:
                    e.status = EnrolmentStatus.DONE
                    changed.append(e)
                continue
            if step.kind == StepKind.SEND:
                states = dict(
                    Message.objects.filter(
                        step=step, customer_id__in=[e.customer_id for e in group]
                    ).values_list("customer_id", "status")
                )
                for e in group:
                    state = states.get(e.customer_id)
                    if state is None:
                        new_messages.append(
                            Message(
                                campaign=campaign,
                                step=step,
                                customer_id=e.customer_id,
                                kind=step.message_kind,
                                not_before=now,
                                created_at=now,
                            )
                        )
                        e.due_at = now + RESEND_POLL
                    elif state in FINAL_STATUSES:
                        e.position, e.due_at, e.status = _enter(steps, position + 1, now)
                    else:
                        e.due_at = now + RESEND_POLL
                    changed.append(e)
                continue
            if step.kind == StepKind.WAIT:
                for e in group:  # the wait is over
                    e.position, e.due_at, e.status = _enter(steps, position + 1, now)
                    changed.append(e)
                continue
            if step.kind == StepKind.BRANCH:
                source = step.condition_step or _previous_send(steps, position)
                column = "clicked_at" if step.condition == BranchCondition.CLICKED else "opened_at"
                yes = set(
                    Message.objects.filter(
                        campaign=campaign,
                        step__position=source,
                        customer_id__in=[e.customer_id for e in group],
                        **{f"{column}__isnull": False},
                    ).values_list("customer_id", flat=True)
                )
                for e in group:
                    target = (step.yes_step if e.customer_id in yes else step.no_step) or position + 1
                    e.position, e.due_at, e.status = _enter(steps, target, now)
                    changed.append(e)
                continue
            if step.kind == StepKind.TASK:
                for e in group:
                    owner_id = e.customer.owner_id or campaign.owner_id
                    tasks.append(
                        Task(
                            title=step.task_title[:200],
                            notes=_("From the campaign “%(name)s”.") % {"name": campaign.name},
                            customer_id=e.customer_id,
                            owner_id=owner_id,
                            due_at=now + dt.timedelta(days=step.task_due_days),
                        )
                    )
                    e.position, e.due_at, e.status = _enter(steps, position + 1, now)
                    changed.append(e)
        Message.objects.bulk_create(new_messages, ignore_conflicts=True)
        if tasks:
            made = Task.objects.bulk_create(tasks)
            if all(t.pk for t in made):
                audit.log_many(
                    actor=None,
                    action=AuditAction.CREATE,
                    model="interactions.task",
                    rows=[(t.pk, t.title, {"title": [None, t.title]}) for t in made],
                    note=f"campaign {campaign.pk}",
                )
        Enrolment.objects.bulk_update(changed, ["position", "due_at", "status"], batch_size=500)
    return len(changed)


def _previous_send(steps: dict[int, JourneyStep], position: int) -> int:
    earlier = [p for p, s in steps.items() if p < position and s.kind == StepKind.SEND]
    return max(earlier) if earlier else 0
