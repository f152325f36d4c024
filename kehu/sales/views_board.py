"""The kanban board of a pipeline (issue #16 deliverable 2): columns with count and weighted total per currency,
cards in position order with a stalled badge, filters (owner, team, expected-close period), "load more" per
column. Moves go through the API (`POST /api/opportunities/{id}/move/` with the card's ETag) from
`static/sales/board.js`; these views render the page and the fragments that script reloads (column heads after
a move, a column's next cards or the whole column after a conflicting move). Reads only, through the scoped
selectors: a rep sees their own deals, a manager their department's."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from kehu.core.access import Access
from kehu.core.models import Team
from kehu.core.selectors import get_visible
from kehu.ui.widgets import choice_rows, options_html

from . import selectors
from .models import CloseReason, Competitor, Opportunity, Pipeline, Stage

PERIODS = [
    ("this_month", gettext_lazy("This month")),
    ("next_month", gettext_lazy("Next month")),
    ("this_quarter", gettext_lazy("This quarter")),
    ("next_quarter", gettext_lazy("Next quarter")),
    ("this_year", gettext_lazy("This year")),
    ("overdue", gettext_lazy("Overdue (date passed)")),
]


def _month_start(day: dt.date, months: int = 0) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def period_dates(period: str, today: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """The expected-close range of a named period (in the user's calendar)."""
    one_day = dt.timedelta(days=1)
    if period == "this_month":
        return _month_start(today), _month_start(today, 1) - one_day
    if period == "next_month":
        return _month_start(today, 1), _month_start(today, 2) - one_day
    if period in ("this_quarter", "next_quarter"):
        first = _month_start(today, -((today.month - 1) % 3) + (3 if period == "next_quarter" else 0))
        return first, _month_start(first, 3) - one_day
    if period == "this_year":
        return dt.date(today.year, 1, 1), dt.date(today.year, 12, 31)
    if period == "overdue":
        return None, today - one_day
    return None, None


@dataclass
class BoardFilters:
    owner: int | None = None
    team: int | None = None
    period: str = ""
    close_from: dt.date | None = None
    close_to: dt.date | None = None
    owner_ids: list[int] | None = None

    @classmethod
    def parse(cls, params) -> BoardFilters:
        """Filters from the query string; malformed values are ignored (the form shows them empty)."""
        f = cls()
        f.owner = _int(params.get("owner"))
        f.team = _int(params.get("team"))
        f.period = params.get("period", "") if params.get("period") in dict(PERIODS) else ""
        if f.period:
            f.close_from, f.close_to = period_dates(f.period, timezone.localdate())
        else:
            f.close_from = _date(params.get("close_from"))
            f.close_to = _date(params.get("close_to"))
        if f.team is not None:
            f.owner_ids = list(
                Team.members.through.objects.filter(team_id=f.team).values_list("user_id", flat=True)
            )
        if f.owner is not None:
            f.owner_ids = [f.owner] if f.owner_ids is None else [o for o in f.owner_ids if o == f.owner]
        return f

    def selector_kwargs(self) -> dict:
        return {"owner_ids": self.owner_ids, "close_from": self.close_from, "close_to": self.close_to}

    def querystring(self) -> str:
        from urllib.parse import urlencode

        pairs: list[tuple[str, object]] = []
        if self.owner is not None:
            pairs.append(("owner", self.owner))
        if self.team is not None:
            pairs.append(("team", self.team))
        if self.period:
            pairs.append(("period", self.period))
        else:
            if self.close_from:
                pairs.append(("close_from", self.close_from.isoformat()))
            if self.close_to:
                pairs.append(("close_to", self.close_to.isoformat()))
        return urlencode(pairs)


def _int(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _date(value) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _require_view(user) -> None:
    if not Access.of(user).can("view", Opportunity):
        raise PermissionDenied(_("You do not have access to this page."))


def _show_amounts(user) -> bool:
    return "amount" not in Access.of(user).hidden_fields(Opportunity)


def _pipeline(user, pk) -> Pipeline:
    return get_visible(selectors.pipelines(user=user), user=user, pk=pk)


class BoardView(View):
    """The board page: `/sales/board/` (the default pipeline) or `/sales/board/<pipeline>/`."""

    def get(self, request, pk=None):
        user = request.user
        _require_view(user)
        pipes = list(selectors.pipelines(user=user).order_by("-is_default", "name", "id"))
        if pk is None:
            pipeline = pipes[0] if pipes else None
        else:
            pipeline = next((p for p in pipes if p.pk == pk), None)
            if pipeline is None:
                raise Http404
        filters = BoardFilters.parse(request.GET)
        ctx = {
            "title": _("Pipeline board"),
            "pipelines": pipes,
            "pipeline": pipeline,
            "filters": filters,
            "periods": PERIODS,
            # the filter selects as one string each (280 users: a template loop per option cost ~10 ms),
            # from the label columns only
            "owner_options": options_html(
                choice_rows(selectors.board_owner_choices(user=user)), {str(filters.owner)}
            ),
            "team_options": options_html(choice_rows(Team.objects.order_by("name")), {str(filters.team)}),
            "show_amounts": _show_amounts(user),
        }
        if pipeline is not None:
            board = selectors.board(user=user, pipeline=pipeline, **filters.selector_kwargs())
            reasons = list(CloseReason.objects.filter(active=True).order_by("kind", "position", "name"))
            ctx.update(
                board=board,
                won_reasons=[r for r in reasons if r.kind == "won"],
                lost_reasons=[r for r in reasons if r.kind == "lost"],
                competitors=list(Competitor.objects.filter(active=True).order_by("name")),
                can_move=Access.of(user).can("change", Opportunity),
            )
        return render(request, "sales/board.html", ctx)


class BoardTotals(View):
    """The column heads (count, totals, weighted totals) as a fragment: refreshed after every move."""

    def get(self, request, pk):
        _require_view(request.user)
        pipeline = _pipeline(request.user, pk)
        filters = BoardFilters.parse(request.GET)
        columns = selectors.board_totals(user=request.user, pipeline=pipeline, **filters.selector_kwargs())
        return render(
            request,
            "sales/board_heads.html",
            {"columns": columns, "show_amounts": _show_amounts(request.user)},
        )


class BoardCards(View):
    """The cards of one column as a fragment: the next page after `?after=<card id>` ("load more"), or the
    column from its top (reload after a conflicting move)."""

    def get(self, request, pk, stage_pk):
        user = request.user
        _require_view(user)
        pipeline = _pipeline(user, pk)
        stage = get_object_or_404(Stage, pk=stage_pk, pipeline=pipeline, active=True)
        filters = BoardFilters.parse(request.GET)
        after = None
        after_id = _int(request.GET.get("after"))
        if after_id is not None:
            after = get_visible(Opportunity, user=user, pk=after_id)
        cards = selectors.board_column_cards(
            user=user, pipeline=pipeline, stage=stage, after=after, **filters.selector_kwargs()
        )
        return render(
            request,
            "sales/board_cards.html",
            {
                "cards": cards,
                "stalled_before": timezone.now() - dt.timedelta(days=pipeline.stalled_days),
                "can_move": Access.of(user).can("change", Opportunity),
                "show_amounts": _show_amounts(user),
            },
        )
