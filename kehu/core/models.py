"""Organisation (users, departments, teams, roles), grants, sharing, audit trail, custom fields, tags.

Row-level invariants live here; use cases that write live in services.py; reads in selectors.py.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class VersionedModel(models.Model):
    """Base of every business record: timestamps and the optimistic-locking version.

    The version is bumped by the record service (kehu.core.records) under a row lock; a save that carries an
    older version is refused with StaleRecordError, never silently lost.
    """

    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, editable=False)
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    class Meta:
        abstract = True


class OwnedModel(VersionedModel):
    """A record with an owner: record scope (own/team/department/all) is computed from the owner."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )

    class Meta:
        abstract = True


class CustomFieldsModel(models.Model):
    """Records that administrators may extend with custom fields (values keyed by CustomField.key)."""

    custom = models.JSONField(_("custom fields"), default=dict, blank=True)

    class Meta:
        abstract = True


class Department(VersionedModel):
    name = models.CharField(_("name"), max_length=120)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # A department may not become its own ancestor.
        node, seen = self.parent, set()
        while node is not None:
            if node.pk == self.pk and self.pk is not None:
                raise ValidationError({"parent": _("A department cannot be placed under itself.")})
            if node.pk in seen:
                break
            seen.add(node.pk)
            node = node.parent


class Team(VersionedModel):
    name = models.CharField(_("name"), max_length=120, unique=True)
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="teams",
    )
    leader = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("leader"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("members"), related_name="teams", blank=True
    )

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]

    choice_label_fields = ("name",)  # what __str__ reads (kehu.ui.widgets.choice_rows)

    def __str__(self) -> str:
        return self.name


class Role(VersionedModel):
    """A bundle of grants. A user may hold several roles; grants add up; what no role grants is denied."""

    code = models.SlugField(_("code"), max_length=60, unique=True)
    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    display_name = models.CharField(_("display name"), max_length=150, blank=True)
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="users",
    )
    roles = models.ManyToManyField(Role, verbose_name=_("roles"), related_name="users", blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    job_title = models.CharField(_("job title"), max_length=120, blank=True)
    language = models.CharField(
        _("language"),
        max_length=10,
        choices=settings.LANGUAGES,
        blank=True,
        help_text=_("Interface language; empty follows the browser."),
    )
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True, help_text=_("e.g. Asia/Shanghai"))
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["username"]

    # what __str__ reads: choice lists load these columns only (kehu.ui.widgets.choice_rows)
    choice_label_fields = ("display_name", "first_name", "last_name", "username")

    def __str__(self) -> str:
        return self.display_name or self.get_full_name() or self.username

    @staticmethod
    def choice_label(display_name: str, first_name: str, last_name: str, username: str) -> str:
        """__str__ from the `choice_label_fields` values, without a model instance (280 users per list page)."""
        return display_name or f"{first_name} {last_name}".strip() or username


class Scope(models.TextChoices):
    NONE = "none", _("None")
    OWN = "own", _("Own records")
    TEAM = "team", _("Team's records")
    DEPARTMENT = "department", _("Department and sub-departments")
    ALL = "all", _("All records")


SCOPE_RANK = {Scope.NONE: 0, Scope.OWN: 1, Scope.TEAM: 2, Scope.DEPARTMENT: 3, Scope.ALL: 4}


class Action(models.TextChoices):
    VIEW = "view", _("View")
    ADD = "add", _("Add")
    CHANGE = "change", _("Change")
    DELETE = "delete", _("Delete")
    IMPORT = "import", _("Import")
    EXPORT = "export", _("Export")
    TRANSFER = "transfer", _("Transfer ownership")


class ModelGrant(VersionedModel):
    """Object-level and record-level grant of one role on one model (identified by its app label)."""

    role = models.ForeignKey(Role, verbose_name=_("role"), on_delete=models.CASCADE, related_name="grants")
    model = models.CharField(_("model"), max_length=100)
    can_view = models.BooleanField(_("view"), default=False)
    can_add = models.BooleanField(_("add"), default=False)
    can_change = models.BooleanField(_("change"), default=False)
    can_delete = models.BooleanField(_("delete"), default=False)
    can_import = models.BooleanField(_("import"), default=False)
    can_export = models.BooleanField(_("export"), default=False)
    can_transfer = models.BooleanField(_("transfer"), default=False)
    read_scope = models.CharField(_("read scope"), max_length=12, choices=Scope.choices, default=Scope.OWN)
    write_scope = models.CharField(_("write scope"), max_length=12, choices=Scope.choices, default=Scope.OWN)

    class Meta:
        verbose_name = _("model grant")
        verbose_name_plural = _("model grants")
        constraints = [models.UniqueConstraint(fields=["role", "model"], name="uniq_grant_role_model")]

    def __str__(self) -> str:
        return f"{self.role} · {self.model}"

    def clean(self) -> None:
        if SCOPE_RANK[Scope(self.write_scope)] > SCOPE_RANK[Scope(self.read_scope)]:
            raise ValidationError({"write_scope": _("The write scope cannot be wider than the read scope.")})


class FieldAccess(models.TextChoices):
    HIDDEN = "hidden", _("Hidden")
    READONLY = "readonly", _("Read-only")
    EDIT = "edit", _("Editable")


class FieldGrant(VersionedModel):
    """Field-level restriction of one role. Fields a role does not mention are editable for it."""

    role = models.ForeignKey(
        Role, verbose_name=_("role"), on_delete=models.CASCADE, related_name="field_grants"
    )
    model = models.CharField(_("model"), max_length=100)
    field = models.CharField(_("field"), max_length=100)
    access = models.CharField(_("access"), max_length=10, choices=FieldAccess.choices)

    class Meta:
        verbose_name = _("field restriction")
        verbose_name_plural = _("field restrictions")
        constraints = [
            models.UniqueConstraint(
                fields=["role", "model", "field"], name="uniq_fieldgrant_role_model_field"
            )
        ]

    def __str__(self) -> str:
        return f"{self.role} · {self.model}.{self.field}: {self.access}"


class ShareAccess(models.TextChoices):
    VIEW = "view", _("View")
    EDIT = "edit", _("View and edit")


class RecordShare(models.Model):
    """One record shared with one user or one team, outside the normal scope rules."""

    model = models.CharField(_("model"), max_length=100)
    object_id = models.BigIntegerField(_("record id"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="shares",
    )
    team = models.ForeignKey(
        Team, verbose_name=_("team"), null=True, blank=True, on_delete=models.CASCADE, related_name="shares"
    )
    access = models.CharField(
        _("access"), max_length=8, choices=ShareAccess.choices, default=ShareAccess.VIEW
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("record share")
        verbose_name_plural = _("record shares")
        indexes = [models.Index(fields=["model", "object_id"]), models.Index(fields=["model", "user"])]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(user__isnull=False, team__isnull=True)
                    | models.Q(user__isnull=True, team__isnull=False)
                ),
                name="share_user_xor_team",
            )
        ]

    def __str__(self) -> str:
        return f"{self.model}#{self.object_id} → {self.user or self.team}"


class AuditAction(models.TextChoices):
    CREATE = "create", _("Created")
    UPDATE = "update", _("Updated")
    DELETE = "delete", _("Deleted")
    TRANSFER = "transfer", _("Transferred")
    MERGE = "merge", _("Merged")
    UNMERGE = "unmerge", _("Merge undone")
    SHARE = "share", _("Shared")
    UNSHARE = "unshare", _("Sharing removed")
    PERMISSION = "permission", _("Permission changed")
    LOGIN = "login", _("Signed in")
    LOCKOUT = "lockout", _("Locked out after failed sign-ins")
    UNLOCK = "unlock", _("Sign-in unlocked")
    EXPORT = "export", _("Exported")
    IMPORT = "import", _("Imported")


class AuditQuerySet(models.QuerySet):
    """Entries come out of the database with their sealed personal values opened (ADR 0024): every reader —
    history views, the audit API, services, tests — sees the values whose customer key still exists, and
    "[erased]" where erasure destroyed it. One key lookup per evaluated queryset, not per entry."""

    def _fetch_all(self):
        fresh = self._result_cache is None
        super()._fetch_all()
        if fresh and self._result_cache and isinstance(self._result_cache[0], AuditEntry):
            from .audit import reveal

            reveal(self._result_cache)


class AuditEntry(models.Model):
    """Append-only: database triggers refuse UPDATE and DELETE (migration 0002)."""

    at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_name = models.CharField(_("user name"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=12, choices=AuditAction.choices)
    model = models.CharField(_("model"), max_length=100)
    object_id = models.CharField(_("record id"), max_length=64)
    object_repr = models.CharField(_("record"), max_length=200, blank=True)
    version = models.PositiveIntegerField(_("version"), null=True, blank=True)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    request_id = models.CharField(max_length=36, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit trail")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["model", "object_id", "-at"]), models.Index(fields=["actor", "-at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.model}#{self.object_id}"

    def save(self, *args, **kwargs):  # noqa: D401 - infrastructure guard, not business logic
        if self.pk is not None:
            raise ValidationError("The audit trail is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("The audit trail is append-only.")


class CustomFieldType(models.TextChoices):
    TEXT = "text", _("Text")
    NUMBER = "number", _("Number")
    DATE = "date", _("Date")
    CHOICE = "choice", _("Choice")
    BOOLEAN = "boolean", _("Yes/no")


class CustomField(VersionedModel):
    model = models.CharField(_("model"), max_length=100)
    key = models.SlugField(
        _("key"), max_length=50, help_text=_("Lower-case letters, digits and underscores; used by the API.")
    )
    label = models.CharField(_("label"), max_length=100)
    field_type = models.CharField(_("type"), max_length=10, choices=CustomFieldType.choices)
    choices = models.JSONField(
        _("choices"), default=list, blank=True, help_text=_("For choice fields: the allowed values.")
    )
    required = models.BooleanField(_("required"), default=False)
    show_in_list = models.BooleanField(_("show in list"), default=False)
    position = models.PositiveIntegerField(_("position"), default=0)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("custom field")
        verbose_name_plural = _("custom fields")
        ordering = ["model", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["model", "key"], name="uniq_customfield_model_key")]

    def __str__(self) -> str:
        return f"{self.label} ({self.model_label()})"

    def model_label(self) -> str:
        """The translated name of the model the field belongs to ('客户'), not its code ('customers.customer')."""
        from . import registry

        entry = registry.get(self.model)
        return str(entry.model._meta.verbose_name_plural) if entry else self.model

    def clean(self) -> None:
        import re

        if not re.fullmatch(r"[a-z][a-z0-9_]{0,49}", self.key or ""):
            raise ValidationError(
                {"key": _("Use lower-case letters, digits and underscores, starting with a letter.")}
            )
        if self.field_type == CustomFieldType.CHOICE:
            if (
                not isinstance(self.choices, list)
                or not self.choices
                or not all(isinstance(c, str) and c.strip() for c in self.choices)
            ):
                raise ValidationError({"choices": _("A choice field needs a list of non-empty values.")})


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=50, unique=True)
    color = models.CharField(_("colour"), max_length=7, default="#64748b")

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SavedView(models.Model):
    """A named list filter/sort of one list page, private or shared with everybody."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views")
    list_key = models.CharField(max_length=100)
    name = models.CharField(_("name"), max_length=80)
    query = models.CharField(_("query"), max_length=2000, blank=True)
    shared = models.BooleanField(_("shared with everybody"), default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("saved view")
        verbose_name_plural = _("saved views")

    def __str__(self) -> str:
        return self.name


class Notification(models.Model):
    """An in-app notification (reminders, assignments, mentions)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"), blank=True)
    url = models.CharField(_("link"), max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)
    dedup_key = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [models.Index(fields=["user", "read_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "dedup_key"],
                condition=~models.Q(dedup_key=""),
                name="uniq_notification_dedup",
            )
        ]

    def __str__(self) -> str:
        return self.title


class FormLayout(VersionedModel):
    """How one record type's form, detail page and list look for one role (or for everyone when `role` is
    empty): field order in sections, required and read-only fields, help texts, list columns and the list's
    default filters (ADR 0025). Layout only: field rights (FieldGrant) stay the one mechanism that hides data,
    so a layout never shows a field the reader may not see (kehu.core.layouts applies it after the rights)."""

    model = models.CharField(_("record type"), max_length=100, db_index=True)
    role = models.ForeignKey(
        Role,
        verbose_name=_("role"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="layouts",
        help_text=_("Empty: everyone without a layout of their own role."),
    )
    priority = models.PositiveIntegerField(
        _("priority"), default=100, help_text=_("Lower first, for users with several roles.")
    )
    #: [{"title": "...", "fields": ["name", ...]}, ...]: order and grouping of the fields
    sections = models.JSONField(_("sections"), default=list, blank=True)
    required = models.JSONField(_("required fields"), default=list, blank=True)
    readonly = models.JSONField(_("read-only fields"), default=list, blank=True)
    help_texts = models.JSONField(_("help texts"), default=dict, blank=True)
    list_columns = models.JSONField(_("list columns"), default=list, blank=True)
    default_filters = models.JSONField(_("default filters"), default=dict, blank=True)

    class Meta:
        verbose_name = _("form layout")
        verbose_name_plural = _("form layouts")
        ordering = ["model", "priority", "id"]
        constraints = [
            models.UniqueConstraint(fields=["model", "role"], name="uniq_layout_model_role"),
            models.UniqueConstraint(
                fields=["model"], condition=models.Q(role__isnull=True), name="uniq_layout_model_everyone"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model} · {self.role or _('everyone')}"
