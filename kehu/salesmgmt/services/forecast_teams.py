"""Team-level forecast (issue #17 part 3): a manager's figure for a whole team and period, kept beside the sum
of its reps' forecasts (never changing them), the way the rep-level adjustment sits beside the rep's commit.

Who: the rep-level adjustments' rights decide. A team's figure is read by whoever may view
`TeamForecastAdjustment` *and* has every active member of the team inside their rep-level adjustment read
scope; it is written by whoever may add and change it with every member inside their adjustment write scope
(a manager of two of a team's three reps may not speak for the team). The amount is derived from deal amounts:
hidden wherever `sales.opportunity.amount` is (registration).

Totals: each rep counts in one team, the first by name among the teams shown, so a rep in two teams is
counted once; a team's final figure is the manager's where there is one, else the sum of its reps' finals
(which include the rep-level adjustments); the page's grand final adds the reps in no shown team."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.utils.translation import gettext as _

from kehu.core import records
from kehu.core.access import Access
from kehu.core.models import Team

from ..models import ForecastAdjustment, TeamForecastAdjustment

ZERO = Decimal("0")


@dataclass
class TeamForecast:
    team: Team
    reps: list = field(default_factory=list)  # the RepForecast rows counted in this team
    adjustment: TeamForecastAdjustment | None = None

    @property
    def forecast(self) -> Decimal:
        """The reps' own figures (won + commit), summed."""
        return sum((r.forecast for r in self.reps), ZERO)

    @property
    def reps_final(self) -> Decimal:
        """The reps' figures with the rep-level adjustments, summed."""
        return sum((r.final for r in self.reps), ZERO)

    @property
    def manager_forecast(self) -> Decimal | None:
        return self.adjustment.amount if self.adjustment else None

    @property
    def final(self) -> Decimal:
        return self.adjustment.amount if self.adjustment is not None else self.reps_final

    @property
    def target(self) -> Decimal | None:
        targets = [r.target for r in self.reps if r.target is not None]
        return sum(targets, ZERO) if targets else None


def _members(team_ids) -> dict[int, set[int]]:
    """Active members per team (one statement)."""
    out: dict[int, set[int]] = {pk: set() for pk in team_ids}
    rows = Team.members.through.objects.filter(team_id__in=sorted(team_ids), user__is_active=True)
    for team_id, user_id in rows.values_list("team_id", "user_id"):
        out[team_id].add(user_id)
    return out


def _scope_owners(access: Access, mode: str) -> set[int] | None:
    grant = access.grant(ForecastAdjustment)
    return access.owner_ids(grant.read_scope if mode == "read" else grant.write_scope)


def _covers(owners: set[int] | None, members: set[int]) -> bool:
    return owners is None or (bool(members) and members <= owners)


def may_view(user) -> bool:
    access = Access.of(user)
    return access.can("view", TeamForecastAdjustment) and access.can("view", ForecastAdjustment)


def attach(*, user, forecasts: list, periods) -> None:
    """Sets `teams` (a list of TeamForecast) and the team-aware `final` on each Forecast of `forecasts`:
    three statements for all the periods (memberships of the shown reps, the teams' members, adjustments)."""
    if not forecasts or not may_view(user):
        return
    rep_ids = {r.rep.pk for f in forecasts for r in f.rows}
    if not rep_ids:
        return
    access = Access.of(user)
    owners = _scope_owners(access, "read")
    firsts: dict[int, int] = {}
    teams: dict[int, Team] = {}
    for team in Team.objects.filter(members__in=sorted(rep_ids)).distinct().order_by("name", "id"):
        teams[team.pk] = team
    memberships = _members(teams)
    visible = {pk for pk, members in memberships.items() if _covers(owners, members)}
    for pk in teams:  # name order: a rep counts in the first visible team
        if pk in visible:
            for rep in memberships[pk]:
                firsts.setdefault(rep, pk)
    which = Q(pk__in=[])
    for period in dict.fromkeys(periods):
        which |= Q(period_kind=period.kind, year=period.year, period_number=period.number)
    adjustments: dict[tuple, TeamForecastAdjustment] = {}
    if visible:
        for a in TeamForecastAdjustment.objects.filter(which, team_id__in=sorted(visible)):
            adjustments[(a.team_id, a.period_kind, a.year, a.period_number)] = a
    may_write = (
        access.can("add", TeamForecastAdjustment)
        and access.can("change", TeamForecastAdjustment)
        and access.can("change", ForecastAdjustment)
    )
    writers = _scope_owners(access, "write") if may_write else set()
    note_hidden = "note" in access.hidden_fields(TeamForecastAdjustment)
    for f in forecasts:
        f.team_note_hidden = note_hidden
        by_team: dict[int, TeamForecast] = {}
        loose: list = []
        for r in f.rows:
            team_pk = firsts.get(r.rep.pk)
            if team_pk is None:
                loose.append(r)
                continue
            if team_pk not in by_team:
                key = (team_pk, f.period.kind, f.period.year, f.period.number)
                by_team[team_pk] = TeamForecast(team=teams[team_pk], adjustment=adjustments.get(key))
            by_team[team_pk].reps.append(r)
        f.teams = [by_team[pk] for pk in teams if pk in by_team]
        for t in f.teams:
            t.can_adjust = f.can_adjust and may_write and _covers(writers, memberships[t.team.pk])
        if any(t.adjustment is not None for t in f.teams):
            f.final = sum((t.final for t in f.teams), ZERO) + sum((r.final for r in loose), ZERO)


def team_adjustment_set(
    *, team: Team, period, amount, note: str | None = None, by, expected_version: int | None = None
) -> TeamForecastAdjustment:
    """A manager's figure for a team's period. Refused (nothing written) for a closed period, a negative or
    malformed amount, a team with no active member, and a team with a member outside the writer's adjustment
    write scope. `note=None` keeps the note (a manager from whom it is hidden neither sees nor writes it)."""
    from .forecast import parse_amount, period_is_closed

    amount = parse_amount(amount)
    access = Access.of(by)
    if note is not None:
        note = note.strip()
        if len(note) > 500:
            raise ValidationError({"note": _("At most 500 characters.")})
        if "note" in access.hidden_fields(TeamForecastAdjustment):
            note = None
    if period_is_closed(period):
        raise ValidationError({"amount": _("The period %(period)s is closed.") % {"period": period.label}})
    if not (
        access.can("add", TeamForecastAdjustment)
        and access.can("change", TeamForecastAdjustment)
        and access.can("change", ForecastAdjustment)
    ):
        raise PermissionDenied(_("You may not adjust forecasts."))
    members = _members([team.pk])[team.pk]
    if not members:
        raise ValidationError({"team": _("This team has no active member.")})
    if not by.is_superuser and not _covers(_scope_owners(access, "write"), members):
        raise PermissionDenied(_("Some of this team's reps are outside your scope."))
    notes = {} if note is None else {"note": note}
    existing = TeamForecastAdjustment.objects.filter(
        team=team, period_kind=period.kind, year=period.year, period_number=period.number
    ).first()
    if existing is None:
        data = {"team": team, "period_kind": period.kind, "year": period.year, "period_number": period.number,
                "amount": amount, **notes}  # fmt: skip
        return records.record_create(model=TeamForecastAdjustment, data=data, by=by)

    def sign(locked: TeamForecastAdjustment) -> dict:
        if locked.adjusted_by_id != by.pk:
            before = str(locked.adjusted_by) if locked.adjusted_by_id else None
            locked.adjusted_by = by
            return {"adjusted_by": [before, str(by)]}
        return {}

    return records.record_update(
        instance=existing, data={"amount": amount, **notes}, by=by, expected_version=expected_version,
        children=sign,
    )  # fmt: skip


def team_visible(*, user, team: Team) -> bool:
    """May `user` read this team's figure (the API's 404 otherwise)."""
    if not may_view(user):
        return False
    return _covers(_scope_owners(Access.of(user), "read"), _members([team.pk])[team.pk])
