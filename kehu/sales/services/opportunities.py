"""Pipelines and opportunities: default pipeline, create/update, kanban moves with stage history, close with a
reason, lines, competitors, activity for the stalled flag.

Locks: a move takes the *target stage* row lock first (serialising every insert into that kanban column, so
concurrent drags never produce colliding positions), then the opportunity's row lock (lock_for_write). Every
path that locks both keeps that order."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Min, Q, Sum
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kehu.core import audit, records
from kehu.core.exceptions import BusinessRuleError, StaleRecordError
from kehu.core.models import AuditAction
from kehu.customers.models import Customer
from kehu.interactions.services import timeline_event_record

from ..models import (
    DEFAULT_STAGES,
    CloseReason,
    Competitor,
    Opportunity,
    OpportunityCompetitor,
    OpportunityLine,
    OpportunityStatus,
    Pipeline,
    Stage,
    StageChange,
    StageKind,
)

STEP = 1024  # gap between kanban positions; a column is renumbered when a gap closes

DEFAULT_REASONS = {
    "won": [("价格有优势", "Better price"), ("产品功能匹配", "Product fit"), ("客户关系", "Relationship")],
    "lost": [
        ("价格过高", "Price too high"),
        ("选择了竞争对手", "Chose a competitor"),
        ("项目取消", "Project cancelled"),
        ("无预算", "No budget"),
    ],
}


def _label(zh: str, en: str) -> str:
    return zh if (translation.get_language() or "").startswith("zh") else en


def pipeline_default() -> Pipeline:
    """The default pipeline; on a fresh installation it is created with the default stages (discovery →
    qualification → negotiation → quotation → won / lost) named in the active language, and the default
    won/lost reasons. Safe under concurrent first calls (a partial unique index on is_default)."""
    pipeline = (
        Pipeline.objects.filter(is_default=True).first() or Pipeline.objects.filter(active=True).first()
    )
    if pipeline is not None:
        return pipeline
    try:
        with transaction.atomic():
            pipeline = Pipeline.objects.create(name=_label("销售流程", "Sales pipeline"), is_default=True)
            for position, (zh, en, kind, probability) in enumerate(DEFAULT_STAGES):
                Stage.objects.create(
                    pipeline=pipeline,
                    name=_label(zh, en),
                    kind=kind,
                    probability=probability,
                    position=position,
                )
            close_reasons_default()
    except IntegrityError:
        return Pipeline.objects.get(is_default=True)
    return pipeline


def close_reasons_default() -> None:
    """Create the default won/lost reasons when none exist."""
    if CloseReason.objects.exists():
        return
    for kind, reasons in DEFAULT_REASONS.items():
        for position, (zh, en) in enumerate(reasons):
            CloseReason.objects.get_or_create(kind=kind, name=_label(zh, en), defaults={"position": position})


def pipeline_create(
    *, name: str, stages: list[tuple[str, str, int]], by, currency: str = "CNY", stalled_days: int = 14
) -> Pipeline:
    """A pipeline with stages given as (name, kind, probability) in order; it needs one won and one lost
    stage and at least one open stage. Audited through the record service (the 'add' right on pipelines)."""
    kinds = [kind for _n, kind, _p in stages]
    if StageKind.OPEN not in kinds or kinds.count(StageKind.WON) != 1 or kinds.count(StageKind.LOST) != 1:
        raise ValidationError(
            {"stages": _("A pipeline needs open stages, one won stage and one lost stage.")}
        )
    with transaction.atomic():
        pipeline = records.record_create(
            model=Pipeline, data={"name": name, "currency": currency, "stalled_days": stalled_days}, by=by
        )
        for position, (stage_name, kind, probability) in enumerate(stages):
            records.record_create(
                model=Stage,
                data={
                    "pipeline": pipeline,
                    "name": stage_name,
                    "kind": kind,
                    "probability": probability,
                    "position": position,
                },
                by=by,
            )
    return pipeline


def stages_of(pipeline: Pipeline) -> list[Stage]:
    return list(pipeline.stages.filter(active=True).order_by("position", "id"))


def first_open_stage(pipeline: Pipeline) -> Stage:
    stage = pipeline.stages.filter(active=True, kind=StageKind.OPEN).order_by("position", "id").first()
    if stage is None:
        raise ValidationError({"stage": _("The pipeline has no open stage.")})
    return stage


def _ensure_customer_visible(customer: Customer, by) -> None:
    from kehu.customers.selectors import customer_list

    if not customer_list(user=by).filter(pk=customer.pk).exists():
        raise Http404


def _top_position(stage: Stage) -> int:
    lowest = Opportunity.objects.filter(stage=stage).aggregate(m=Min("position"))["m"]
    return 0 if lowest is None else lowest - STEP


def opportunity_create(*, data: dict, by) -> Opportunity:
    """Create a deal for a customer the user may see. Pipeline: the given one or the default; stage: the
    given one or the pipeline's first open stage (a deal cannot be created closed). The card goes on top of
    its column; the first stage-history row and a timeline event are written in the same transaction."""
    data = dict(data)
    customer = data.get("customer")
    if customer is None:
        raise ValidationError({"customer": _("Choose the customer.")})
    _ensure_customer_visible(customer, by)
    pipeline = data.get("pipeline") or pipeline_default()
    stage = data.get("stage") or first_open_stage(pipeline)
    if stage.pipeline_id != pipeline.pk:
        raise ValidationError({"stage": _("This stage belongs to another pipeline.")})
    if stage.kind != StageKind.OPEN:
        raise ValidationError({"stage": _("A new deal starts in an open stage.")})
    data.update(pipeline=pipeline, stage=stage)
    data.setdefault("currency", pipeline.currency)
    with transaction.atomic():
        Stage.objects.select_for_update().filter(pk=stage.pk).first()  # the column's lock
        opportunity = records.record_create(model=Opportunity, data=data, by=by)
        now = timezone.now()
        Opportunity.objects.filter(pk=opportunity.pk).update(
            position=_top_position(stage),
            probability=stage.probability,
            stage_entered_at=now,
            last_activity_at=now,
        )
        opportunity.refresh_from_db()
        StageChange.objects.create(
            opportunity=opportunity, from_stage=None, to_stage=stage, at=now, by=by, amount=opportunity.amount
        )
        _timeline(
            opportunity,
            "created",
            _("Opportunity created: %(name)s") % {"name": opportunity.name},
            key=opportunity.pk,
        )
    return opportunity


def opportunity_update(
    *, opportunity: Opportunity, data: dict, by, expected_version: int | None
) -> Opportunity:
    """Edit a deal's fields. The stage, status and outcome change only through opportunity_move /
    opportunity_close (they write the stage history); a `stage` here is refused."""
    for name in ("stage", "pipeline", "status", "close_reason", "lost_to"):
        if name in data and getattr(opportunity, f"{name}_id" if name != "status" else name) != getattr(
            data[name], "pk", data[name]
        ):
            raise ValidationError({name: _("Move the deal on the board (or close it) to change its stage.")})
        data.pop(name, None)
    customer = data.get("customer")
    if customer is not None and customer.pk != opportunity.customer_id:
        _ensure_customer_visible(customer, by)
    with transaction.atomic():
        updated = records.record_update(
            instance=opportunity, data=data, by=by, expected_version=expected_version
        )
        Opportunity.objects.filter(pk=updated.pk).update(last_activity_at=timezone.now())
    return updated


def _check_version(locked: Opportunity, expected_version: int | None) -> None:
    if expected_version is not None and locked.version != expected_version:
        raise StaleRecordError(
            locked, expected_version, audit.changes_since("sales.opportunity", locked.pk, expected_version)
        )


def _position_between(
    stage: Stage, after: Opportunity | None, before: Opportunity | None, moving_pk: int
) -> int:
    """A free position between the card above (`after`) and the card below (`before`) in `stage` (locked by
    the caller). With one neighbour only, the other is the card next to it in the column as stored now (so a
    drag right below a card that someone else just dropped there lands between them, not on top of it).
    Renumbers the column when no integer gap is left."""
    column = Opportunity.objects.filter(stage=stage).exclude(pk=moving_pk)
    for neighbour in (after, before):
        if neighbour is not None and neighbour.stage_id != stage.pk:
            raise ValidationError(
                {"position": _("The neighbouring card is in another column; reload the board.")}
            )
    above = column.filter(pk=after.pk).values_list("position", flat=True).first() if after else None
    below = column.filter(pk=before.pk).values_list("position", flat=True).first() if before else None
    if (after is not None and above is None) or (before is not None and below is None):
        raise ValidationError({"position": _("The neighbouring card is gone; reload the board.")})
    if above is None and below is None:
        return _top_position(stage)
    if below is None:
        assert after is not None and above is not None
        below = (
            column.filter(Q(position__gt=above) | Q(position=above, pk__gt=after.pk))
            .order_by("position", "id")
            .values_list("position", flat=True)
            .first()
        )
        if below is None:
            return above + STEP
    if above is None:
        assert before is not None
        above = (
            column.filter(Q(position__lt=below) | Q(position=below, pk__lt=before.pk))
            .order_by("-position", "-id")
            .values_list("position", flat=True)
            .first()
        )
        if above is None:
            return below - STEP
    if below - above > 1:
        return (above + below) // 2
    if below < above:
        raise ValidationError({"position": _("The neighbouring cards are out of order; reload the board.")})
    # no gap left: renumber the column in its current order (every card, STEP apart), then place again
    ids = list(column.order_by("position", "id").values_list("pk", flat=True))
    for index, pk in enumerate(ids):
        Opportunity.objects.filter(pk=pk).update(position=(index + 1) * STEP)
    return _position_between(stage, after, before, moving_pk)


def opportunity_move(
    *,
    opportunity: Opportunity,
    stage: Stage,
    by,
    after: Opportunity | None = None,
    before: Opportunity | None = None,
    expected_version: int | None = None,
    close_reason: CloseReason | None = None,
    close_note: str = "",
    lost_to: Competitor | None = None,
) -> Opportunity:
    """Move a deal to `stage` (same pipeline) and to a place in its column: below `after` and above `before`
    (either may be None: top/bottom). Into a won or lost stage it needs `close_reason` of that outcome.

    A stage change writes a StageChange row with the time spent in the previous stage, sets probability,
    status and closed_at from the stage, bumps the version, writes the audit entry and a timeline event.
    Locks: the target stage (column) first, then the deal; `expected_version` (the card the user dragged)
    makes a drag of a card someone else changed meanwhile fail with StaleRecordError instead of silently
    overwriting; drags of *different* cards into one column are serialised and all kept."""
    with transaction.atomic():
        Stage.objects.select_for_update().filter(pk=stage.pk).first()
        locked, _access = records.lock_for_write(opportunity, by)
        _check_version(locked, expected_version)
        if stage.pipeline_id != locked.pipeline_id:
            raise ValidationError({"stage": _("This stage belongs to another pipeline.")})
        if not stage.active:
            raise ValidationError({"stage": _("This stage is no longer in use.")})
        now = timezone.now()
        from_stage, entered = locked.stage, locked.stage_entered_at
        stage_changed = from_stage.pk != stage.pk
        before_snapshot = audit.snapshot(locked)
        if stage_changed or after is not None or before is not None:
            locked.position = _position_between(stage, after, before, locked.pk)
        if stage_changed:
            locked.stage = stage
            locked.probability = stage.probability
            locked.stage_entered_at = now
            if stage.kind == StageKind.OPEN:
                locked.close_reason, locked.close_note, locked.lost_to, locked.closed_at = (
                    None,
                    "",
                    None,
                    None,
                )
            else:
                locked.close_reason = close_reason
                locked.close_note = (close_note or "").strip()[:300]
                locked.lost_to = lost_to if stage.kind == StageKind.LOST else None
                locked.closed_at = now
            locked.full_clean(validate_unique=False, validate_constraints=False)  # reason required on close
        locked.last_activity_at = now
        locked.version += 1
        locked.updated_at = now
        locked.save()
        if stage_changed:
            seconds = max(0, int((now - entered).total_seconds()))
            change = StageChange.objects.create(
                opportunity=locked,
                from_stage=from_stage,
                to_stage=stage,
                at=now,
                by=by,
                seconds_in_from=seconds,
                amount=locked.amount,
            )
            if stage.kind == StageKind.WON:
                subject = _("Deal won: %(name)s") % {"name": locked.name}
            elif stage.kind == StageKind.LOST:
                subject = _("Deal lost: %(name)s") % {"name": locked.name}
            else:
                subject = _("Deal %(name)s moved to %(stage)s") % {"name": locked.name, "stage": stage.name}
            _timeline(locked, "stage", subject, key=change.pk, body=locked.close_note)
        changes = audit.diff(before_snapshot, audit.snapshot(locked))
        audit.log(
            actor=by,
            action=AuditAction.UPDATE,
            instance=locked,
            changes=changes,
            note=_("moved on the board"),
        )
    opportunity.__dict__.update({k: v for k, v in locked.__dict__.items() if not k.startswith("_")})
    return locked


def opportunity_close(
    *,
    opportunity: Opportunity,
    won: bool,
    reason: CloseReason | None,
    by,
    note: str = "",
    lost_to: Competitor | None = None,
    expected_version: int | None = None,
) -> Opportunity:
    """Close a deal as won or lost: moves it to its pipeline's won/lost stage; the reason is required."""
    kind = StageKind.WON if won else StageKind.LOST
    stage = (
        Stage.objects.filter(pipeline_id=opportunity.pipeline_id, kind=kind, active=True)
        .order_by("position")
        .first()
    )
    if stage is None:
        raise BusinessRuleError(_("The pipeline has no stage for this outcome."), field="stage")
    return opportunity_move(
        opportunity=opportunity,
        stage=stage,
        by=by,
        expected_version=expected_version,
        close_reason=reason,
        close_note=note,
        lost_to=lost_to,
    )


def opportunity_reopen(
    *, opportunity: Opportunity, by, stage: Stage | None = None, expected_version: int | None = None
) -> Opportunity:
    """Reopen a closed deal into `stage` (default: the last open stage it was in)."""
    if stage is None:
        last_open = (
            StageChange.objects.filter(opportunity=opportunity, to_stage__kind=StageKind.OPEN)
            .order_by("-at", "-id")
            .values_list("to_stage_id", flat=True)
            .first()
        )
        stage = (
            Stage.objects.filter(pk=last_open).first()
            if last_open
            else first_open_stage(opportunity.pipeline)
        )
    if stage is None or stage.kind != StageKind.OPEN:
        raise ValidationError({"stage": _("Reopen into an open stage.")})
    return opportunity_move(opportunity=opportunity, stage=stage, by=by, expected_version=expected_version)


def _refresh_amount(opportunity: Opportunity) -> None:
    total = OpportunityLine.objects.filter(opportunity=opportunity).aggregate(s=Sum("amount"))["s"]
    if total is not None:
        Opportunity.objects.filter(pk=opportunity.pk).update(amount=total, last_activity_at=timezone.now())


def opportunity_line_add(*, opportunity: Opportunity, data: dict, by) -> OpportunityLine:
    """Add a product line; with lines, the deal's amount is the sum of their net amounts. The line's unit
    price defaults to the product's list price; its currency must be the deal's."""
    product = data.get("product")
    if product is None:
        raise ValidationError({"product": _("Choose a product.")})
    data = {"unit_price": product.list_price, **data, "opportunity": opportunity}
    if product.currency != opportunity.currency and "unit_price" not in data:
        raise ValidationError({"unit_price": _("Give the price in the deal's currency.")})
    with transaction.atomic():
        locked, _access = records.lock_for_write(opportunity, by)
        position = (
            OpportunityLine.objects.filter(opportunity=locked).aggregate(m=Max("position"))["m"] or 0
        ) + 1
        line = records.record_create(model=OpportunityLine, data={**data, "position": position}, by=by)
        _refresh_amount(locked)
        Opportunity.objects.filter(pk=locked.pk).update(version=F("version") + 1, updated_at=timezone.now())
    return line


def opportunity_line_remove(*, line: OpportunityLine, by, expected_version: int | None = None) -> None:
    """Remove a product from a deal (409 when the line changed since `expected_version`) and recompute the
    deal's amount."""
    with transaction.atomic():
        opportunity, _access = records.lock_for_write(line.opportunity, by)
        records.record_delete(instance=line, by=by, expected_version=expected_version)
        if OpportunityLine.objects.filter(opportunity=opportunity).exists():
            _refresh_amount(opportunity)
        Opportunity.objects.filter(pk=opportunity.pk).update(
            version=F("version") + 1, updated_at=timezone.now()
        )


def opportunity_competitor_add(
    *, opportunity: Opportunity, competitor: Competitor, by, notes: str = ""
) -> OpportunityCompetitor:
    existing = OpportunityCompetitor.objects.filter(opportunity=opportunity, competitor=competitor).first()
    if existing is not None:
        return existing
    return records.record_create(
        model=OpportunityCompetitor,
        data={"opportunity": opportunity, "competitor": competitor, "notes": notes},
        by=by,
    )


def opportunities_touch(*, customer_id: int, at=None) -> int:
    """Mark the open deals of a customer (and of its account) as active now: an interaction was logged.
    Called by the interactions hook; a conditional UPDATE, never moves the clock back."""
    at = at or timezone.now()
    account_id = Customer.objects.filter(pk=customer_id).values_list("account_id", flat=True).first()
    ids = [customer_id] + ([account_id] if account_id else [])
    return Opportunity.objects.filter(
        customer_id__in=ids, status=OpportunityStatus.OPEN, last_activity_at__lt=at
    ).update(last_activity_at=at)


def on_interaction_logged(entry) -> None:
    """kehu.interactions hook (INTERACTION_LOGGED): a logged call/visit/email keeps the customer's deals fresh."""
    opportunities_touch(customer_id=entry.customer_id, at=min(entry.occurred_at, timezone.now()))


def _timeline(opportunity: Opportunity, what: str, subject: str, *, key, body: str = "") -> None:
    timeline_event_record(
        customer=opportunity.customer,
        subject=subject,
        related_model=f"sales.opportunity.{what}",
        related_id=key,
        url=opportunity.get_absolute_url(),
        body=body,
    )


def stalled_cutoff(pipeline: Pipeline, now=None):
    return (now or timezone.now()) - dt.timedelta(days=pipeline.stalled_days)


def weighted(amount: Decimal, probability: int) -> Decimal:
    from ..money import cents

    return cents(amount * probability / Decimal(100))
