"""Sales reads, scoped: leads, opportunities, the kanban board, stage history, stalled deals."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.expressions import RawSQL, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from kehu.core.models import Team
from kehu.core.selectors import scoped

from .models import Lead, LeadActivity, Opportunity, OpportunityStatus, Pipeline, Stage, StageChange
from .money import cents

CARDS_PER_COLUMN = 50
# what a card shows (sales/board_cards.html, api.CardSerializer): the card loads these columns only, not the
# deal's and its customer's whole rows (custom JSON, descriptions, search keys)
CARD_FIELDS = (
    "id", "name", "customer_id", "owner_id", "stage_id", "pipeline_id", "status", "amount", "currency",
    "probability", "expected_close_date", "position", "last_activity_at", "version", "customer__id",
    "customer__name", "owner__id", "owner__username", "owner__display_name", "owner__first_name",
    "owner__last_name",
)  # fmt: skip
MAX_OWNER_BRANCHES = 60  # a board filtered to more owners ranks per stage only


def lead_list(*, user) -> QuerySet[Lead]:
    return scoped(Lead, user=user).select_related("owner", "region", "product_line")


def lead_activities(*, user, lead: Lead) -> QuerySet[LeadActivity]:
    return (
        scoped(LeadActivity, user=user)
        .filter(lead=lead)
        .select_related("user")
        .order_by("-occurred_at", "-id")
    )


def opportunity_list(*, user) -> QuerySet[Opportunity]:
    return scoped(Opportunity, user=user).select_related("customer", "owner", "stage", "pipeline")


def pipelines(*, user) -> QuerySet[Pipeline]:
    return scoped(Pipeline, user=user).filter(active=True).prefetch_related("stages")


def team_member_ids(team: Team) -> list[int]:
    return list(Team.members.through.objects.filter(team_id=team.pk).values_list("user_id", flat=True))


@dataclass
class Column:
    stage: Stage
    count: int = 0
    # currency -> sums (deals of several currencies are never added together)
    amounts: dict[str, Decimal] = field(default_factory=dict)
    weighted: dict[str, Decimal] = field(default_factory=dict)
    cards: list[Opportunity] = field(default_factory=list)

    @property
    def more(self) -> int:
        return max(0, self.count - len(self.cards))


@dataclass
class Board:
    pipeline: Pipeline
    columns: list[Column]
    stalled_before: dt.datetime


def board(
    *,
    user,
    pipeline: Pipeline,
    owner_ids: list[int] | None = None,
    close_from: dt.date | None = None,
    close_to: dt.date | None = None,
    include_closed: bool = False,
    per_column: int = CARDS_PER_COLUMN,
) -> Board:
    """The kanban board of one pipeline for `user` (record scope applied), optionally filtered to owners (a
    rep, or a team's members) and an expected-close period. Four queries whatever the number of stages and
    cards: the stages, per-stage counts and totals (grouped by stage and currency), the ids of the first
    `per_column` cards of every column (a window function numbering cards per stage in position order), and
    those cards with their customer and owner."""
    stages = list(pipeline.stages.filter(active=True).order_by("position", "id"))
    unfiltered = _board_queryset(
        user=user,
        pipeline=pipeline,
        owner_ids=None,
        close_from=close_from,
        close_to=close_to,
        include_closed=include_closed,
    )
    qs = unfiltered
    if owner_ids is not None:  # the totals: the team's owners within the scope as one list (Access.filter)
        qs = _board_queryset(
            user=user,
            pipeline=pipeline,
            owner_ids=owner_ids,
            close_from=close_from,
            close_to=close_to,
            include_closed=include_closed,
        )
    columns = {s.pk: Column(stage=s) for s in stages}
    _column_totals(qs, columns)
    # the first cards of every column: rank the narrow rows first, then load only those cards with their joins
    # (won and lost columns are drop zones with counts and totals: their cards are not listed unless asked for)
    listed = [st.pk for st in stages if include_closed or st.kind == "open"]
    if connection.vendor == "postgresql" and owner_ids is not None and len(owner_ids) <= MAX_OWNER_BRANCHES:
        # one subquery per owner and stage: the owner is its key, the team's IN list would only mislead the
        # planner into a sort of the owner's whole book instead of the ordered range of ix_opp_owner_board
        ids = _first_cards(unfiltered, listed, owner_ids, per_column)
    else:
        ids = _first_cards(qs, listed, owner_ids, per_column)
    cards = (
        Opportunity.objects.filter(pk__in=ids)
        .select_related("customer", "owner")
        .only(*CARD_FIELDS)
        .order_by("stage_id", "position", "id")
    )
    for card in cards:
        column = columns.get(card.stage_id)
        if column is not None:
            column.cards.append(card)
    return Board(
        pipeline=pipeline,
        columns=[columns[s.pk] for s in stages],
        stalled_before=timezone.now() - dt.timedelta(days=pipeline.stalled_days),
    )


def _board_queryset(
    *,
    user,
    pipeline: Pipeline,
    owner_ids: list[int] | None,
    close_from: dt.date | None,
    close_to: dt.date | None,
    include_closed: bool,
) -> QuerySet[Opportunity]:
    """The deals of a board (scope and filters applied), shared by the board, its totals and its columns."""
    qs = scoped(Opportunity, user=user, owners=owner_ids).filter(pipeline=pipeline)
    if close_from:
        qs = qs.filter(expected_close_date__gte=close_from)
    if close_to:
        qs = qs.filter(expected_close_date__lte=close_to)
    if not include_closed:
        # closed columns show the deals closed in the last 30 days only (closed_at is NULL exactly while a deal
        # is open, and it is in the board index: counts and ranks are index-only scans on PostgreSQL)
        recent = timezone.now() - dt.timedelta(days=30)
        qs = qs.filter(Q(closed_at__isnull=True) | Q(closed_at__gte=recent))
    return qs


def _column_totals(qs: QuerySet[Opportunity], columns: dict[int, Column]) -> None:
    """Counts and totals per stage (and currency) into `columns`, in one grouped query."""
    totals = qs.order_by().values("stage_id", "currency")
    for row in totals.annotate(
        n=Count("pk"), total=Sum("amount"), weighted=Sum(F("amount") * F("probability"))
    ):
        column = columns.get(row["stage_id"])
        if column is None:
            continue
        column.count += row["n"]
        currency = row["currency"]
        column.amounts[currency] = column.amounts.get(currency, Decimal(0)) + (row["total"] or Decimal(0))
        column.weighted[currency] = column.weighted.get(currency, Decimal(0)) + cents(
            Decimal(row["weighted"] or 0) / 100
        )


def board_totals(
    *,
    user,
    pipeline: Pipeline,
    owner_ids: list[int] | None = None,
    close_from: dt.date | None = None,
    close_to: dt.date | None = None,
) -> list[Column]:
    """The column heads of the board (count and totals per stage, no cards) in two queries: what the board
    page refreshes after a move."""
    stages = list(pipeline.stages.filter(active=True).order_by("position", "id"))
    columns = {s.pk: Column(stage=s) for s in stages}
    qs = _board_queryset(
        user=user,
        pipeline=pipeline,
        owner_ids=owner_ids,
        close_from=close_from,
        close_to=close_to,
        include_closed=False,
    )
    _column_totals(qs, columns)
    return [columns[s.pk] for s in stages]


def board_column_cards(
    *,
    user,
    pipeline: Pipeline,
    stage: Stage,
    owner_ids: list[int] | None = None,
    close_from: dt.date | None = None,
    close_to: dt.date | None = None,
    after: Opportunity | None = None,
    limit: int = CARDS_PER_COLUMN,
) -> list[Opportunity]:
    """The next `limit` cards of one column in position order, after the card `after` (keyset: "load more"
    and the reload of a column after a conflicting move), with the same scope and filters as the board."""
    qs = _board_queryset(
        user=user,
        pipeline=pipeline,
        owner_ids=owner_ids,
        close_from=close_from,
        close_to=close_to,
        include_closed=False,
    ).filter(stage=stage)
    if after is not None:
        qs = qs.filter(Q(position__gt=after.position) | Q(position=after.position, pk__gt=after.pk))
    return list(qs.select_related("customer", "owner").order_by("position", "id")[:limit])


def _first_cards(
    qs: QuerySet, stage_ids: list[int], owner_ids: list[int] | None, per_column: int
) -> list[int]:
    """Ids of the first `per_column` cards of each stage, in position order, in one query.

    PostgreSQL: a LATERAL join over the stages — and the owners, when the board is filtered to a few — of an
    `ORDER BY position LIMIT n` subquery: each an index range scan that stops after n rows
    (ix_opp_owner_board, ix_opp_column), ranked per stage by a window function over those few rows; the cost
    does not grow with the number of deals, and the statement is planned once whatever the number of owners
    (a UNION ALL of one branch per owner and stage cost ~1 ms of planning per branch: 180 ms for a team of 33).
    Elsewhere (SQLite has no LATERAL): a window function numbering each stage's cards."""
    if connection.vendor == "postgresql" and stage_ids:
        per_owner = owner_ids is not None and len(owner_ids) <= MAX_OWNER_BRANCHES
        if per_owner and not owner_ids:
            return []
        inner = qs.filter(stage_id=RawSQL('"board_s"."stage_id"', ()))
        if per_owner:
            inner = inner.filter(owner_id=RawSQL('"board_o"."owner_id"', ()))
        inner = inner.order_by("position", "id").values_list("pk", "stage_id", "position")[:per_column]
        inner_sql, inner_params = inner.query.sql_with_params()
        sources = "unnest(%s::bigint[]) AS board_s(stage_id)"
        params: list = [list(stage_ids)]
        if per_owner:
            sources += " CROSS JOIN unnest(%s::bigint[]) AS board_o(owner_id)"
            params.append(list(owner_ids or ()))
        sql = (
            "SELECT card_id FROM (SELECT c.card_id, row_number() OVER "  # noqa: S608 - compiled by the ORM # nosec B608
            "(PARTITION BY c.card_stage ORDER BY c.card_position, c.card_id) AS card_rank "
            f"FROM {sources} CROSS JOIN LATERAL ({inner_sql}) AS c(card_id, card_stage, card_position)) AS ranked "
            "WHERE card_rank <= %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, *inner_params, per_column])
            return [row[0] for row in cursor.fetchall()]
    ranked = qs.order_by().annotate(
        column_rank=Window(
            RowNumber(), partition_by=[F("stage_id")], order_by=[F("position").asc(), F("id").asc()]
        )
    )
    return list(ranked.filter(column_rank__lte=per_column).values_list("pk", flat=True))


def stalled_opportunities(
    *, user, pipeline: Pipeline | None = None, now: dt.datetime | None = None
) -> QuerySet[Opportunity]:
    """Open deals without activity for their pipeline's `stalled_days`."""
    now = now or timezone.now()
    qs = opportunity_list(user=user).filter(status=OpportunityStatus.OPEN)
    pipes = [pipeline] if pipeline is not None else list(Pipeline.objects.all())
    condition = Q(pk__in=[])
    for p in pipes:
        condition |= Q(pipeline=p, last_activity_at__lt=now - dt.timedelta(days=p.stalled_days))
    return qs.filter(condition)


@dataclass
class StageSpell:
    stage: Stage
    entered_at: dt.datetime
    left_at: dt.datetime | None
    seconds: int
    by_name: str


def stage_history(*, opportunity: Opportunity, now: dt.datetime | None = None) -> list[StageSpell]:
    """The stages a deal went through with the time spent in each (the current one up to now). The caller
    has already checked that the user may see the opportunity."""
    now = now or timezone.now()
    changes = list(
        StageChange.objects.filter(opportunity=opportunity)
        .select_related("to_stage", "by")
        .order_by("at", "id")
    )
    spells = []
    for index, change in enumerate(changes):
        left = changes[index + 1].at if index + 1 < len(changes) else None
        spells.append(
            StageSpell(
                stage=change.to_stage,
                entered_at=change.at,
                left_at=left,
                seconds=int(((left or now) - change.at).total_seconds()),
                by_name=str(change.by) if change.by_id else "",
            )
        )
    return spells


def board_owner_choices(*, user) -> QuerySet:
    """The people a board can be filtered to: the active users whose deals `user` may read."""
    from kehu.core.access import Access
    from kehu.core.selectors import active_users

    access = Access.of(user)
    owners = access.owner_ids(access.grant(Opportunity).read_scope)
    users = active_users()
    if owners is not None:
        users = users.filter(pk__in=sorted(owners))
    return users.order_by("display_name", "username")
