"""The one place where object-, record- and field-level access is decided.

    access = Access.of(user)           # cached on the user object for the request
    access.can("change", Customer)     # object level
    access.filter(Customer.objects.all())             # record level, read scope
    access.filter(qs, mode="write")                   # record level, write scope
    access.field_access(Customer)      # {"credit_limit": "hidden", ...}

Grants from several roles add up: the widest scope and every granted action win; a field is restricted only
if every role that can see the model restricts it. What no role grants is denied. Superusers see everything.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cached_property

from django.db.models import Model, Q, QuerySet

from . import registry
from .models import (
    SCOPE_RANK,
    Action,
    Department,
    FieldAccess,
    FieldGrant,
    ModelGrant,
    RecordShare,
    Scope,
    ShareAccess,
)

_GRANT_ACTIONS = tuple(Action.values)  # a grant's can_<action> columns
FIELD_RANK = {FieldAccess.HIDDEN: 0, FieldAccess.READONLY: 1, FieldAccess.EDIT: 2}

#: Principals who are not staff (portal users: people of a customer or partner account) carry a scope of their
#: own that replaces the role grants entirely: callables(user) -> an object with grant(label) ->
#: EffectiveGrant, filter(qs, mode) -> QuerySet and field_access(label) -> dict, or None for a staff user.
#: Registered by the portal app (kehu/portal/scope.py); what they allow is decided there, in one place.
EXTERNAL_SCOPES: list = []


@dataclass
class EffectiveGrant:
    actions: set[str] = field(default_factory=set)
    read_scope: Scope = Scope.NONE
    write_scope: Scope = Scope.NONE


def _label(model_or_label) -> str:
    if isinstance(model_or_label, str):
        return model_or_label.lower()
    if isinstance(model_or_label, QuerySet):
        return model_or_label.model._meta.label_lower
    return model_or_label._meta.label_lower


def _widest(a: Scope, b: Scope) -> Scope:
    return a if SCOPE_RANK[Scope(a)] >= SCOPE_RANK[Scope(b)] else Scope(b)


# ------------------------------------------------------------------ the request's share probe (ADR 0017)
# Every scoped read asks whether anything of that model is shared with the user (the rep dashboard asked 24
# times). Inside a request (`request_scope`, entered by `AccessRequestMiddleware`) the kinds of shares the user
# has — (model, access) pairs — are read once; the shared ids themselves stay a subquery of each statement, so
# a share revoked mid-request is never over-granted. Any RecordShare write (save/delete, also cascades) in this
# process empties the cache (`shares_changed`), so a share granted mid-request is seen by the next read.
# Outside a request scope (services, tasks, tests calling selectors) nothing is cached.
_request_shares: ContextVar[dict[tuple[int, tuple[int, ...]], set[tuple[str, str]]] | None] = ContextVar(
    "kehu_request_shares", default=None
)


@contextmanager
def request_scope() -> Iterator[None]:
    """Cache the share probe for the duration of one request (nested scopes start empty)."""
    token = _request_shares.set({})
    try:
        yield
    finally:
        _request_shares.reset(token)


def shares_changed(**_signal_kwargs) -> None:
    """A RecordShare was written: forget every cached probe of the current request scope."""
    cache = _request_shares.get()
    if cache is not None:
        cache.clear()


class Access:
    def __init__(self, user) -> None:
        self.user = user
        self.is_superuser = bool(getattr(user, "is_superuser", False)) and user.is_active
        self.authenticated = bool(getattr(user, "is_authenticated", False)) and user.is_active
        self.external = None
        if self.authenticated:
            for resolve in EXTERNAL_SCOPES:
                self.external = resolve(user)
                if self.external is not None:
                    self.is_superuser = False  # a portal user is never more than a portal user
                    break

    @classmethod
    def of(cls, user) -> Access:
        cached = getattr(user, "_kehu_access", None)
        if cached is None:
            cached = cls(user)
            try:
                user._kehu_access = cached
            except AttributeError:  # AnonymousUser is fine to recompute
                pass
        return cached

    @classmethod
    def forget(cls, user) -> None:
        if hasattr(user, "_kehu_access"):
            del user._kehu_access

    # ---------------------------------------------------------------- loading
    @cached_property
    def _grant_and_field_rows(self) -> tuple[list, list]:
        """The model grants and the field grants of the user's roles, in one statement (a UNION ALL of the
        two tables; two statements before, on nearly every page): (model grants, field grants) as rows with
        the columns' names as attributes."""
        if not self.authenticated:
            return [], []
        from types import SimpleNamespace

        from django.db import connection

        from .models import User

        quote = connection.ops.quote_name
        roles = User.roles.through._meta
        user_roles = (
            f"SELECT ur.{quote(roles.get_field('role').column)} FROM {quote(roles.db_table)} ur "  # noqa: S608 # nosec B608 - model names
            f"WHERE ur.{quote(roles.get_field('user').column)} = %s"
        )
        flags = ", ".join(f"g.{quote('can_' + a)}" for a in _GRANT_ACTIONS)
        nulls = ", ".join("NULL" for _ in _GRANT_ACTIONS)
        sql = (
            f"SELECT 'g', g.role_id, g.model, {flags}, g.read_scope, g.write_scope, NULL, NULL "  # noqa: S608 # nosec B608 - model names
            f"FROM {quote(ModelGrant._meta.db_table)} g WHERE g.role_id IN ({user_roles}) "
            f"UNION ALL SELECT 'f', f.role_id, f.model, {nulls}, NULL, NULL, f.field, f.access "
            f"FROM {quote(FieldGrant._meta.db_table)} f WHERE f.role_id IN ({user_roles})"
        )
        names = ["role_id", "model", *(f"can_{a}" for a in _GRANT_ACTIONS), "read_scope", "write_scope"]
        grants, fields = [], []
        with connection.cursor() as cursor:
            cursor.execute(sql, [self.user.pk, self.user.pk])
            for kind, *values in cursor.fetchall():
                if kind == "g":
                    grants.append(SimpleNamespace(**dict(zip(names, values[: len(names)], strict=True))))
                else:
                    role_id, model, *_flags, field_name, access = values
                    fields.append(
                        SimpleNamespace(role_id=role_id, model=model, field=field_name, access=access)
                    )
        return grants, fields

    @property
    def _grant_rows(self) -> list:
        """The model grants of the user's roles (read with the field grants: one statement)."""
        return self._grant_and_field_rows[0]

    @cached_property
    def _grants(self) -> dict[str, EffectiveGrant]:
        result: dict[str, EffectiveGrant] = {}
        for grant in self._grant_rows:
            eff = result.setdefault(grant.model, EffectiveGrant())
            for action in Action.values:
                if getattr(grant, f"can_{action}"):
                    eff.actions.add(action)
            if grant.can_view:
                eff.read_scope = _widest(eff.read_scope, Scope(grant.read_scope))
                eff.write_scope = _widest(eff.write_scope, Scope(grant.write_scope))
        return result

    @cached_property
    def _field_grants(self) -> dict[str, dict[str, str]]:
        """model -> field -> most permissive access over the roles that may view the model. The roles come
        from the model grants already read (a role without a view grant on a model does not govern its
        fields); the field grants are read with the model grants (`_grant_and_field_rows`)."""
        if not self.authenticated or self.is_superuser:
            return {}
        viewing = {(g.role_id, g.model) for g in self._grant_rows if g.can_view}
        if not viewing:
            return {}
        per_role: dict[tuple[int, str], dict[str, str]] = {}
        viewing_roles = {r for r, _m in viewing}
        for fg in self._grant_and_field_rows[1]:
            if fg.role_id in viewing_roles:
                per_role.setdefault((fg.role_id, fg.model), {})[fg.field] = fg.access
        result: dict[str, dict[str, str]] = {}
        models_seen = {m for (_, m) in viewing}
        for model in models_seen:
            roles = [r for (r, m) in viewing if m == model]
            restricted = set()
            for r in roles:
                restricted |= set(per_role.get((r, model), {}))
            eff: dict[str, str] = {}
            for fname in restricted:
                best = max(
                    (per_role.get((r, model), {}).get(fname, FieldAccess.EDIT) for r in roles),
                    key=lambda a: FIELD_RANK[FieldAccess(a)],
                )
                if best != FieldAccess.EDIT:
                    eff[fname] = best
            if eff:
                result[model] = eff
        return result

    @cached_property
    def _team_rows(self) -> list[tuple[int, int]]:
        """(team id, member id) of every member of the user's teams: the user's teams and their members in
        one statement (two before; read on every scoped page of a team- or share-scoped user)."""
        if not self.authenticated:
            return []
        from .models import Team

        through = Team.members.through
        mine = through.objects.filter(user_id=self.user.pk).values("team_id")
        return list(through.objects.filter(team_id__in=mine).values_list("team_id", "user_id"))

    @cached_property
    def team_ids(self) -> list[int]:
        return sorted({team for team, _member in self._team_rows})

    @cached_property
    def _team_member_ids(self) -> set[int]:
        ids = {member for _team, member in self._team_rows}
        ids.add(self.user.pk)
        return ids

    @cached_property
    def _department_member_ids(self) -> set[int]:
        """The users of the user's department and of every department below it, in one statement (a
        recursive walk of the tree inside the database; the tree and its members were two reads before)."""
        if not self.user.department_id:
            return {self.user.pk}
        ids = department_member_ids(self.user.department_id)
        ids.add(self.user.pk)
        return ids

    # ---------------------------------------------------------------- object level
    def grant(self, model_or_label) -> EffectiveGrant:
        """Effective grant on a model. A `via` model takes its scopes from its parent, and its actions from
        the parent too unless it is registered with own_actions."""
        shared = self._shared_grant(_label(model_or_label))
        return EffectiveGrant(set(shared.actions), shared.read_scope, shared.write_scope)

    def _shared_grant(self, label: str) -> EffectiveGrant:
        """grant() without the copy: computed once per label for the life of this Access (a request; a
        page asks ~60 times — navigation, buttons). Callers must not change it."""
        cached = self._grant_memo.get(label)
        if cached is None:
            if self.external is not None:
                cached = self.external.grant(label)
            elif self.is_superuser:
                cached = EffectiveGrant(set(Action.values), Scope.ALL, Scope.ALL)
            else:
                cached = self._grant_of(label)
            self._grant_memo[label] = cached
        return cached

    @cached_property
    def _grant_memo(self) -> dict[str, EffectiveGrant]:
        return {}

    def _grant_of(self, label: str) -> EffectiveGrant:
        entry = registry.get(label)
        parent = entry.parent() if entry is not None else None
        if entry is None or parent is None:
            return self._grants.get(label, EffectiveGrant())
        inherited = self.grant(parent.label)
        if not entry.own_actions:
            return inherited
        own = self._grants.get(label, EffectiveGrant())
        if "view" not in inherited.actions:
            return EffectiveGrant(set(own.actions), Scope.NONE, Scope.NONE)
        return EffectiveGrant(set(own.actions), inherited.read_scope, inherited.write_scope)

    def can(self, action: str, model_or_label) -> bool:
        if not self.authenticated:
            return False
        return action in self._shared_grant(_label(model_or_label)).actions

    # ---------------------------------------------------------------- record level
    def owner_ids(self, scope: Scope) -> set[int] | None:
        """Owner ids covered by a scope; None means every record."""
        if scope == Scope.ALL:
            return None
        if scope == Scope.OWN:
            return {self.user.pk}
        if scope == Scope.TEAM:
            return self._team_member_ids
        if scope == Scope.DEPARTMENT:
            return self._department_member_ids
        return set()

    def _share_kinds(self) -> set[tuple[str, str]] | None:
        """(model, access) of every share the user has (directly or through a team), read once per request
        scope and user; None outside a request scope."""
        cache = _request_shares.get()
        if cache is None:
            return None
        key = (self.user.pk, tuple(self.team_ids))
        kinds = cache.get(key)
        if kinds is None:
            kinds = set(
                RecordShare.objects.filter(Q(user=self.user) | Q(team_id__in=self.team_ids))
                .values_list("model", "access")
                .distinct()
                .order_by()
            )
            cache[key] = kinds
        return kinds

    def shared_ids_q(self, label: str, prefix: str, mode: str = "read") -> Q | None:
        """The condition "the record (at `prefix`) is shared with this user or one of their teams" that
        `filter` adds to the scope, or None when nothing of `label` is shared with them."""
        shares = RecordShare.objects.filter(model=label).filter(
            Q(user=self.user) | Q(team_id__in=self.team_ids)
        )
        if mode == "write":
            shares = shares.filter(access=ShareAccess.EDIT)
        kinds = self._share_kinds()
        if kinds is not None:
            if not any(m == label and (mode != "write" or a == ShareAccess.EDIT) for m, a in kinds):
                return None
        elif not shares.exists():
            return None
        return Q(**{f"{prefix}pk__in": shares.values("object_id")})

    def owner_reach(self, model, mode: str = "read") -> tuple[list[int] | None, Q | None] | bool:
        """The user's scope on `model` when it is exactly "the governing record's owner is one of these users"
        (optionally "… or the record is shared with me"): (sorted owner ids, the share condition or None);
        (None, None) when the user sees every record; False when the scope has any other term (extra scopes,
        an external user, no owner field, no owners) — callers then keep the plain scope. The statement `filter`
        builds is compared with the one rebuilt from these parts, so a scope rule added later cannot be
        bypassed by a caller that narrows by owner (report summary, NBA worklist: ADR 0011)."""
        qs = self.filter(model._default_manager.all(), mode=mode)
        if not qs.query.where:
            return None, None
        if self.external is not None or not self.authenticated:
            return False
        entry = registry.require(model)
        prefix, owner_field = entry.scope_path()
        if owner_field is None:
            return False
        grant = self.grant(model)
        owners = self.owner_ids(Scope(grant.read_scope if mode == "read" else grant.write_scope))
        if not owners:
            return False
        owner_list = sorted(owners)
        condition = Q(**{f"{prefix}{owner_field}_id__in": owner_list})
        shared = self.shared_ids_q(entry.grant_label(), prefix, mode)
        if shared is not None:
            condition |= shared
        expected = model._default_manager.filter(condition)
        return (owner_list, shared) if str(qs.query) == str(expected.query) else False

    def filter(self, qs: QuerySet, mode: str = "read", owners=None) -> QuerySet:
        """Restrict a queryset to the records this user may read (or write).

        `owners` (ids): only the records of these owners — a team filter. The same rows as
        `filter(qs).filter(<owner>__in=owners)`, but the owner list is intersected with the scope's here, so
        the statement carries one short list: a department's list and a team's list AND-ed made PostgreSQL
        misestimate the rows and scan every contract (receivables) or read the department's deals (board)."""
        if not self.authenticated:
            return qs.none()
        if self.external is not None:
            return self.external.filter(qs, mode)
        entry = registry.require(qs.model)
        grant = self.grant(qs.model)
        prefix, owner_field = entry.scope_path()
        narrow = None
        if owners is not None:
            if owner_field is None:
                raise ValueError(f"{entry.label} has no owner: `owners` does not apply")
            owners = set(owners)
            narrow = Q(**{f"{prefix}{owner_field}_id__in": sorted(owners)}) if owners else Q(pk__in=[])
        if self.is_superuser:
            return qs if narrow is None else qs.filter(narrow)
        if "view" not in grant.actions:
            return qs.none()
        scope = Scope(grant.read_scope if mode == "read" else grant.write_scope)
        if owner_field is None:
            # Ownerless records (users, products, ...): visible to everybody with the view right;
            # writes are governed by the object-level rights alone.
            return qs if scope != Scope.NONE or mode == "read" else qs.none()
        in_scope = self.owner_ids(scope)
        if in_scope is None:
            return qs if narrow is None else qs.filter(narrow)
        if owners is not None:
            in_scope = in_scope & owners
        condition = Q(**{f"{prefix}{owner_field}_id__in": sorted(in_scope)}) if in_scope else Q(pk__in=[])
        shared = self.shared_ids_q(entry.grant_label(), prefix, mode)
        if shared is not None:
            condition |= shared if narrow is None else shared & narrow
        root = entry.root()
        if root.extra_scope is not None:
            extra = root.extra_scope(self, mode, scope, prefix)
            if extra is not None:
                condition |= extra if narrow is None else extra & narrow
        return qs.filter(condition)

    def can_write_record(self, instance: Model) -> bool:
        return self.filter(type(instance)._default_manager.filter(pk=instance.pk), mode="write").exists()

    # ---------------------------------------------------------------- field level
    def field_access(self, model_or_label) -> dict[str, str]:
        """Restricted fields of a model: name -> "hidden" | "readonly" (absent means editable)."""
        if self.external is not None:
            return self.external.field_access(_label(model_or_label))
        if self.is_superuser:
            return {}
        label = _label(model_or_label)
        entry = registry.get(label)
        governing = entry.label if entry else label
        return dict(self._field_grants.get(governing, {}))

    def hidden_fields(self, model_or_label) -> set[str]:
        """Hidden fields, plus what a model declares as belonging to a field (registry `extra["governed"]`,
        e.g. a customer's other phone numbers belong to "phone"): hidden with it everywhere; plus fields it
        declares as computed from another model's fields (`extra["derived"]`) when one of those is hidden."""
        hidden = {f for f, a in self.field_access(model_or_label).items() if a == FieldAccess.HIDDEN}
        entry = registry.get(_label(model_or_label))
        if entry is None:
            return hidden
        if hidden:
            governed = entry.extra.get("governed", {})
            hidden |= {name for name, owner in governed.items() if owner in hidden}
        # fields computed from other models' fields (registry `extra["derived"]`: name -> [(label, field)]),
        # e.g. NBA's expected effect from the customer's CLV: hidden wherever one of their sources is hidden
        for name, sources in entry.extra.get("derived", {}).items():
            if name not in hidden and any(
                source != entry.label and field in self.hidden_fields(source) for source, field in sources
            ):
                hidden.add(name)
        return hidden

    def readonly_fields(self, model_or_label) -> set[str]:
        """Fields the user may see but not change, including owner fields without the transfer right."""
        result = {f for f, a in self.field_access(model_or_label).items() if a != FieldAccess.EDIT}
        entry = registry.get(_label(model_or_label))
        if entry and entry.owner_field and not self.can(Action.TRANSFER, model_or_label):
            result.add(entry.owner_field)
        return result


def department_subtree_ids(root_id: int) -> set[int]:
    """The department and every department below it (departments are few: one query, walked in memory)."""
    children: dict[int | None, list[int]] = {}
    for pk, parent_id in Department.objects.values_list("id", "parent_id"):
        children.setdefault(parent_id, []).append(pk)
    result, stack = set(), [root_id]
    while stack:
        node = stack.pop()
        if node in result:
            continue
        result.add(node)
        stack.extend(children.get(node, []))
    return result


def department_member_ids(root_id: int) -> set[int]:
    """Ids of the users of a department and of every department below it: one statement (WITH RECURSIVE,
    SQLite and PostgreSQL alike; UNION stops at a cycle)."""
    from django.db import connection

    from .models import User

    quote = connection.ops.quote_name
    department, user = quote(Department._meta.db_table), quote(User._meta.db_table)
    parent = quote(Department._meta.get_field("parent").column)
    in_department = quote(User._meta.get_field("department").column)
    sql = (
        f"WITH RECURSIVE subtree(id) AS (SELECT r.id FROM {department} r WHERE r.id = %s "  # noqa: S608 # nosec B608 - model names
        f"UNION SELECT d.id FROM {department} d "
        f"JOIN subtree s ON d.{parent} = s.id) "
        f"SELECT u.id FROM {user} u WHERE u.{in_department} IN (SELECT id FROM subtree)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [root_id])
        return {row[0] for row in cursor.fetchall()}
