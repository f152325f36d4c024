"""Running workflow rules (in background tasks): match the written records against the rules of their type,
evaluate the conditions in one query per rule and batch (in the rule owner's scope), run the actions of each
matching record and log the run. Loops stop at a depth limit; failed actions are retried, then reported."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import BooleanField, Case, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.access import Access
from kehu.marketing.rules import RuleError

from . import actions, triggers
from .conditions import compile_conditions, fields_for, model_of
from .models import Rule, RuleRun, RunStatus, Trigger

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
RETRY_SECONDS = (60, 600)  # after the first and the second failure
CHUNK = 500


def max_depth() -> int:
    return int(getattr(settings, "KEHU_AUTOMATION_MAX_DEPTH", 5))


def process_writes(payload: dict) -> int:
    """The task's entry for a batch of written records (see triggers.on_written). Returns the runs logged."""
    label, action, rows, depth = payload["model"], payload["action"], payload["rows"], payload.get("depth", 0)
    wanted = (
        (Trigger.CREATED, Trigger.INBOUND)
        if action == "create"
        else (Trigger.FIELD_CHANGED, Trigger.STAGE_ENTERED)
    )
    count = 0
    batch: list[tuple[Rule, dict]] = []
    for rule in Rule.objects.filter(model=label, active=True, trigger__in=wanted).select_related("owner"):
        events = {
            pk: {"changes": changes} if changes else {}
            for pk, changes in rows
            if triggers.selects(rule, action, changes)
        }
        if not events:
            continue
        if depth >= max_depth():
            count += _stop_loop(rule, events, depth)
            continue
        batch.append((rule, events))
    if batch:
        count += run_rules(batch, depth=depth)
    return count


def _stop_loop(rule: Rule, events: dict, depth: int) -> int:
    message = _("Stopped: the rule was triggered %(n)d levels deep by rule actions (a loop?).") % {"n": depth}
    logger.error(
        "workflow rule %s stopped at depth %s for %s %s", rule.pk, depth, rule.model, list(events)[:10]
    )
    RuleRun.objects.bulk_create(
        [
            RuleRun(
                rule=rule,
                rule_version=rule.version,
                trigger=rule.trigger,
                model=rule.model,
                object_id=pk,
                event=event,
                depth=depth,
                status=RunStatus.LOOP,
                error=message,
            )  # fmt: skip
            for pk, event in events.items()
        ]
    )
    return len(events)


def matching(rule: Rule, ids: Iterable, q=None):
    """The records among `ids` that meet the rule's conditions (`q`: compiled already) and lie in its owner's
    read scope."""
    model = model_of(rule.model)
    if q is None:
        problem, q = _compiled(rule)
        if problem:
            raise RuleError([problem])
    return Access.of(rule.owner).filter(model._default_manager.filter(pk__in=list(ids)).filter(q))


def _owner_problem(rule: Rule) -> str | None:
    if rule.owner is None or not rule.owner.is_active:
        return _("The rule's owner is missing or inactive: the rule acts with its owner's rights.")
    return None


def _compiled(rule: Rule, fields=None):
    """(problem, Q of the conditions and the trigger's own filter) for the rule's owner."""
    problem = _owner_problem(rule)
    if problem:
        return problem, None
    try:
        _clean, q = compile_conditions(rule.model, rule.conditions, user=rule.owner, fields=fields)
    except RuleError as exc:
        return "; ".join(exc.messages), None
    if rule.trigger == Trigger.INBOUND:
        q &= Q(**triggers.INBOUND.get(rule.model, {"pk__in": []}))
    return None, q


def run_rule(rule: Rule, ids: list, *, events: dict | None = None, depth: int = 0) -> int:
    return run_rules([(rule, events or {str(pk): {} for pk in ids})], depth=depth)


def run_rules(batch: list[tuple[Rule, dict]], *, depth: int = 0) -> int:
    """Evaluate rules of one record type over their written records and run the matching ones. The rules of
    one owner are evaluated together: one query per owner and 500 records, each rule's conditions a boolean
    column (`CASE WHEN <conditions> THEN true`), in the owner's read scope."""
    count = 0
    groups: dict[int | None, list[tuple[Rule, dict, object]]] = {}
    fields = fields_for(batch[0][0].model) if batch else None  # one table for the batch (one record type)
    for rule, events in batch:
        problem, q = _compiled(rule, fields)
        if problem:
            RuleRun.objects.create(rule=rule, rule_version=rule.version, trigger=rule.trigger, model=rule.model,
                                   object_id=str(next(iter(events), "")), status=RunStatus.FAILED, error=problem,
                                   depth=depth)  # fmt: skip
            count += 1
            continue
        groups.setdefault(rule.owner_id, []).append((rule, events, q))
    for entries in groups.values():
        owner = entries[0][0].owner
        model = model_of(entries[0][0].model)
        ids = sorted({pk for _rule, events, _q in entries for pk in events}, key=str)
        columns = {
            f"rule_{i}": Case(When(q, then=Value(True)), default=Value(False), output_field=BooleanField())
            if q
            else Value(True, output_field=BooleanField())  # no conditions: every record
            for i, (_rule, _events, q) in enumerate(entries)
        }
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            scoped = Access.of(owner).filter(model._default_manager.filter(pk__in=chunk))
            hits = []
            try:
                rows = list(scoped.annotate(**columns).values_list("pk", *columns))
            except Exception as exc:  # a rule that cannot be evaluated is logged, the batch goes on
                logger.exception("workflow rules %s could not be evaluated", [r.pk for r, _e, _q in entries])
                for rule, _events, _q in entries:
                    RuleRun.objects.create(rule=rule, rule_version=rule.version, trigger=rule.trigger,
                                           model=rule.model, object_id=str(chunk[0]), status=RunStatus.FAILED,
                                           error=str(exc)[:1000], depth=depth)  # fmt: skip
                continue
            for row in rows:
                pk = str(row[0])
                for i, matched in enumerate(row[1:]):
                    rule, events, _q = entries[i]
                    if matched and pk in events:
                        hits.append((rule, pk, events[pk]))
            if not hits:
                continue
            records = model._default_manager.in_bulk([pk for _r, pk, _e in hits])
            for rule, pk, event in hits:
                record = records.get(int(pk) if pk.isdigit() else pk)
                if record is not None:
                    execute(rule, record, event=event, depth=depth)
                    count += 1
    return count


def execute(rule: Rule, record, *, event: dict, depth: int, run: RuleRun | None = None) -> RuleRun:
    """Run the rule's actions on `record` (on a retry: only those that failed or waited) and log the run."""
    if run is None:
        run = RuleRun.objects.create(rule=rule, rule_version=rule.version, trigger=rule.trigger, model=rule.model,
                                     object_id=str(record.pk), object_repr=str(record)[:200], event=event,
                                     depth=depth, status=RunStatus.SUCCEEDED)  # fmt: skip
        previous: dict[int, dict] = {}
    else:
        run.attempts += 1
        previous = {o["index"]: o for o in run.outcomes}
    ctx = actions.Ctx(rule=rule, record=record, owner=rule.owner, event=event, run_id=run.pk)
    outcomes, retry_at = [], None
    token = triggers.depth.set(depth + 1)
    try:
        for index, config in enumerate(rule.actions):
            done = previous.get(index)
            if done and done["outcome"] in ("done", "skipped"):
                outcomes.append(done)
                continue
            outcome = {"index": index, "type": config.get("type")}
            try:
                with transaction.atomic():
                    outcome.update(outcome="done", detail=actions.run(ctx, config))
            except actions.Skipped as exc:
                outcome.update(outcome="skipped", detail=str(exc))
            except actions.Deferred as exc:
                outcome.update(outcome="deferred", detail=str(exc))
                retry_at = exc.until if retry_at is None else min(retry_at, exc.until)
            except Exception as exc:  # any failure of one action: logged, retried, reported; never raised
                logger.warning("workflow rule %s action %s failed on %s: %s", rule.pk, index, record.pk, exc)
                outcome.update(outcome="failed", detail=str(exc)[:300] or exc.__class__.__name__)
            outcomes.append(outcome)
    finally:
        triggers.depth.reset(token)
    failed = [o for o in outcomes if o["outcome"] == "failed"]
    run.outcomes = outcomes
    run.error = "; ".join(o["detail"] for o in failed)[:1000]
    if failed and run.attempts < MAX_ATTEMPTS:
        run.status = RunStatus.RETRYING
        delay = RETRY_SECONDS[min(run.attempts - 1, len(RETRY_SECONDS) - 1)]
        when = timezone.now() + timezone.timedelta(seconds=delay)
        retry_at = when if retry_at is None else min(retry_at, when)
    elif failed:
        run.status = RunStatus.FAILED
        _report(rule, run)
    elif retry_at is not None:
        run.status = RunStatus.RETRYING
    else:
        run.status = RunStatus.SUCCEEDED
    run.save(update_fields=["outcomes", "error", "status", "attempts"])
    if run.status == RunStatus.RETRYING:
        _schedule_retry(run.pk, retry_at)
    return run


def _report(rule: Rule, run: RuleRun) -> None:
    from kehu.core.services import notify

    logger.error(
        "workflow rule %s failed on %s %s after %s attempts: %s",
        rule.pk,
        run.model,
        run.object_id,
        run.attempts,
        run.error,
    )
    if rule.owner is not None:
        notify(
            user=rule.owner,
            title=_("Workflow rule %(name)s failed") % {"name": rule.name},
            body=run.error,
            url=rule.get_absolute_url(),
            dedup_key=f"rulefail:{run.pk}",
        )


def _schedule_retry(run_id: int, when) -> None:
    from django_tasks import default_task_backend

    from . import tasks

    def enqueue() -> None:
        task = tasks.retry_run
        if default_task_backend.supports_defer and when is not None:
            task = task.using(run_after=when)
        task.enqueue(run_id)

    transaction.on_commit(enqueue)


def retry(run_id: int) -> RuleRun | None:
    run = (
        RuleRun.objects.select_related("rule", "rule__owner")
        .filter(pk=run_id, status=RunStatus.RETRYING)
        .first()
    )
    if run is None:
        return None
    rule = run.rule
    model = model_of(run.model)
    record = model._default_manager.filter(pk=run.object_id).first()
    if record is None or _owner_problem(rule):
        run.status, run.error = RunStatus.FAILED, _("The record or the rule's owner is gone.")
        run.save(update_fields=["status", "error"])
        return run
    return execute(rule, record, event=run.event, depth=run.depth, run=run)


def dry_run(rule: Rule, record, *, by) -> dict:
    """What the rule would do to `record` now, without writing (the record must be visible to `by`)."""
    result: dict = {"record": str(record), "matches": False, "actions": [], "problem": _owner_problem(rule)}
    if result["problem"]:
        return result
    try:
        result["matches"] = matching(rule, [record.pk]).exists()
    except RuleError as exc:
        result["problem"] = "; ".join(exc.messages)
        return result
    if not result["matches"]:
        in_scope = Access.of(rule.owner).filter(type(record)._default_manager.filter(pk=record.pk)).exists()
        result["reason"] = (
            _("The conditions are not met.")
            if in_scope
            else _("The record is outside the rule owner's scope.")
        )
        return result
    ctx = actions.Ctx(rule=rule, record=record, owner=rule.owner, dry=True)
    for index, config in enumerate(rule.actions):
        try:
            with transaction.atomic():
                text, outcome = actions.run(ctx, config), "would"
        except actions.Skipped as exc:
            text, outcome = str(exc), "skipped"
        except Exception as exc:
            text, outcome = str(exc) or exc.__class__.__name__, "failed"
        result["actions"].append(
            {
                "index": index,
                "type": config.get("type"),
                "label": str(actions.ACTIONS[config["type"]].label)
                if config.get("type") in actions.ACTIONS
                else "?",
                "outcome": outcome,
                "detail": text,
            }
        )
    RuleRun.objects.create(rule=rule, rule_version=rule.version, trigger=rule.trigger, model=rule.model,
                           object_id=str(record.pk), object_repr=str(record)[:200], status=RunStatus.DRY_RUN,
                           outcomes=result["actions"], event={"by": by.pk})  # fmt: skip
    return result
