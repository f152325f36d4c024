"""Automatic merges of near-certain duplicates (issue 8): the open candidates of the duplicate scan whose match
probability reaches a high-confidence threshold are merged through the merge service — each one a MergeRecord
with its audit entries, undone like any merge (merge.customer_merge_undo) — or, with `dry_run`, only listed.

What is never merged automatically, and stays on the review list:
- a pair whose stored reasons hold evidence against it (another kind, ID number, tax id, date of birth,
  gender, name, company region, account), or that is only implied through a third record (`linked_through`);
- a group that is not a clique of such pairs: A~B and B~C above the threshold but A~C not (or not a candidate)
  is a chain, not one customer;
- records the acting user may not change and delete (checked by the merge service under row locks), records
  merged meanwhile, and groups larger than MAX_GROUP.

The survivor is the oldest record (lowest id); it keeps its own values, and an empty field of it takes the value
of the first merged record that has one (fields hidden from the user excepted), so a merge loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils.translation import gettext as _

from kehu.core.access import Access
from kehu.core.exceptions import ConflictError
from kehu.core.selectors import scoped

from .merge import MERGEABLE_FIELDS, customer_merge
from .models import Customer, DuplicateCandidate

#: a pair at or above this match probability may be merged without review (bench precision: docs/benchmarks.md)
THRESHOLD = 0.99
MAX_GROUP = 5
#: reasons that speak against a pair: never merged without a person looking at it
AGAINST = frozenset(
    {
        "kind_differs",
        "other_accounts",
        "name_differs",
        "same_core_other_region",
        "birth_date_differs",
        "id_number_differs",
        "tax_id_differs",
        "gender_differs",
        "linked_through",
    }
)


@dataclass
class Group:
    survivor: Customer
    others: list[Customer]
    score: float  # the lowest match probability among the group's pairs
    merge_id: int | None = None
    error: str = ""


@dataclass
class Outcome:
    threshold: float
    dry_run: bool
    merged: list[Group] = field(default_factory=list)  # merged, or to be merged in a dry run
    failed: list[Group] = field(default_factory=list)  # refused by the merge service (rights, conflicts)
    held: int = 0  # pairs above the threshold left for review (evidence against, chains, scope, size)


def _has_evidence_against(reasons) -> bool:
    return any(isinstance(r, list | tuple) and r and r[0] in AGAINST for r in reasons or [])


#: never taken from a merged record automatically: the owner needs the transfer right and is a decision; the
#: phones and emails move over as rows (the survivor's primary stays its own)
NOT_FILLED = frozenset({"owner", "name", "phone", "email"})


def _fill_empty(survivor: Customer, others: list[Customer], unwritable: set[str]) -> dict[str, int]:
    """field → id of the first other record with a value where the survivor has none."""
    choices = {}
    for name in MERGEABLE_FIELDS:
        if name in NOT_FILLED or name in unwritable:
            continue
        if getattr(survivor, name) not in (None, "", [], {}):
            continue
        for other in others:
            if getattr(other, name) not in (None, "", [], {}):
                choices[name] = other.pk
                break
    return choices


def plan(*, by, threshold: float = THRESHOLD) -> tuple[list[Group], int]:
    """The groups an automatic merge would merge now (for `by`), and how many pairs above the threshold it
    leaves for review."""
    pairs = list(
        DuplicateCandidate.objects.filter(status=DuplicateCandidate.Status.OPEN, score__gte=threshold)
        .order_by("-score", "pk")
        .values_list("first_id", "second_id", "score", "reasons")
    )
    if not pairs:
        return [], 0
    ids = {i for a, b, _s, _r in pairs for i in (a, b)}
    # only records the user may change (the merge service checks again, under locks); the others stay
    # invisible here — a group is never formed around a record the user cannot see
    writable = {
        c.pk: c
        for c in scoped(Customer.objects.filter(pk__in=ids, merged_into__isnull=True), user=by, mode="write")
    }
    strong: dict[tuple[int, int], float] = {}
    held = 0
    for a, b, score, reasons in pairs:
        if (
            a not in writable
            or b not in writable
            or writable[a].kind != writable[b].kind
            or _has_evidence_against(reasons)
        ):
            held += 1
        else:
            strong[(min(a, b), max(a, b))] = score
    # connected components of the strong pairs (union–find)
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in strong:
        parent[root(a)] = root(b)
    components: dict[int, list[int]] = {}
    for x in list(parent):
        components.setdefault(root(x), []).append(x)
    groups = []
    for members in components.values():
        members.sort()
        edges = [(a, b) for i, a in enumerate(members) for b in members[i + 1 :]]
        if len(members) > MAX_GROUP or any(e not in strong for e in edges):
            held += sum(1 for e in edges if e in strong)  # a chain, not one customer: review it
            continue
        customers = [writable[m] for m in members]
        groups.append(Group(customers[0], customers[1:], min(strong[e] for e in edges)))
    groups.sort(key=lambda g: (-g.score, g.survivor.pk))
    return groups, held


def auto_merge(
    *, by, threshold: float = THRESHOLD, dry_run: bool = False, limit: int | None = None
) -> Outcome:
    """Merge (or, with `dry_run`, list) the groups of `plan`, each in its own transaction through the merge
    service. A group the service refuses is reported with its reason; the others go on."""
    if not 0.5 < threshold <= 1:
        raise ValidationError(
            _("The threshold of an automatic merge is a probability above 0.5 and at most 1.")
        )
    groups, held = plan(by=by, threshold=threshold)
    outcome = Outcome(threshold=threshold, dry_run=dry_run, held=held)
    access = Access.of(by)
    unwritable = set(access.hidden_fields(Customer)) | set(access.readonly_fields(Customer))
    for group in groups[:limit] if limit else groups:
        if dry_run:
            outcome.merged.append(group)
            continue
        try:
            merge = customer_merge(
                survivor=group.survivor,
                others=group.others,
                by=by,
                field_choices=_fill_empty(group.survivor, group.others, unwritable),
                note=_("automatic merge at match probability %(score).3f (threshold %(threshold).3f)")
                % {"score": group.score, "threshold": threshold},
            )
        except (PermissionDenied, ConflictError, ValidationError, Http404) as exc:
            group.error = " ".join(getattr(exc, "messages", None) or [str(exc)]) or exc.__class__.__name__
            outcome.failed.append(group)
            continue
        group.merge_id = merge.pk
        outcome.merged.append(group)
    return outcome
