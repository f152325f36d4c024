"""The approval engine's data (ADR 0018).

- `ApprovalChain` / `ApprovalStep`: configuration kept by an administrator in the UI. A chain applies to one
  record type (`model`, e.g. "sales.quote") when its conditions hold (amount, discount, the requester's roles
  and departments); the first matching active chain by `priority` wins. Steps run one after the other
  (sequential); within a step the approvers decide in parallel, and the step passes when any one of them or
  all of them approved (`mode`). A rejection at any step rejects the request.
- `ApprovalRequest`: one run of a chain for one record. Its `plan` is a copy of the chain's steps taken when it
  started, so editing a chain never changes a request in flight. At most one pending request per record
  (partial unique index).
- `ApprovalTask`: one approver's part of one step (`on_behalf_of` when a delegate holds it).
- `ApprovalEvent`: the append-only history of a request (started, step passed, approved, rejected, delegated,
  reminded, escalated, withdrawn).
- `Delegation`: while a user is away (a date range) their new approval tasks go to a delegate.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.models import VersionedModel


class ApproverKind(models.TextChoices):
    USER = "user", _("A user")
    ROLE = "role", _("The users of a role")
    MANAGER = "manager", _("The requester's manager")
    DEPARTMENT_HEAD = "department_head", _("The head of a department")
    REQUESTER_DEPARTMENT_HEAD = (
        "requester_dept_head",
        _("The head of the requester's department (below the chosen department, else top level)"),
    )
    DISCOUNT_APPROVER = (
        "discount_approver",
        _("The requester's discount approver (role of their limit, else manager)"),
    )
    CAMPAIGN_APPROVER = (
        "campaign_approver",
        _("Who may change the campaign, other than its owner (four eyes)"),
    )


class StepMode(models.TextChoices):
    ANY = "any", _("Any one approver")
    ALL = "all", _("All approvers")


class RequestStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class TaskStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    CLOSED = "closed", _("Closed without a decision")


class EventKind(models.TextChoices):
    STARTED = "started", _("Submitted for approval")
    STEP_APPROVED = "step_approved", _("Step approved")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    REMINDED = "reminded", _("Reminder sent")
    ESCALATED = "escalated", _("Escalated")
    DELEGATED = "delegated", _("Delegated")


class ApprovalChain(VersionedModel):
    code = models.SlugField(_("code"), max_length=60, unique=True)
    name = models.CharField(_("name"), max_length=120)
    model = models.CharField(_("record type"), max_length=60, db_index=True)
    active = models.BooleanField(_("active"), default=True)
    priority = models.PositiveIntegerField(
        _("priority"), default=100, help_text=_("Lower first: the first matching active chain applies.")
    )
    min_amount = models.DecimalField(_("amount from"), max_digits=16, decimal_places=2, null=True, blank=True)
    max_amount = models.DecimalField(
        _("amount below"), max_digits=16, decimal_places=2, null=True, blank=True
    )
    min_discount = models.DecimalField(
        _("discount from (%)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    requester_roles = models.ManyToManyField(
        "core.Role",
        verbose_name=_("requester's roles"),
        blank=True,
        related_name="+",
        help_text=_("Empty: any role."),
    )
    requester_departments = models.ManyToManyField(
        "core.Department",
        verbose_name=_("requester's departments"),
        blank=True,
        related_name="+",
        help_text=_("Empty: any department (a department includes its sub-departments)."),
    )
    description = models.TextField(_("description"), blank=True)

    class Meta:
        verbose_name = _("approval chain")
        verbose_name_plural = _("approval chains")
        ordering = ["model", "priority", "id"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("approvals:chain", args=[self.pk])

    def clean(self) -> None:
        from .kinds import approval_types

        errors = {}
        if self.min_amount is not None and self.max_amount is not None and self.max_amount <= self.min_amount:
            errors["max_amount"] = _("The upper amount must be above the lower one.")
        if self.min_discount is not None and not (0 <= self.min_discount <= 100):
            errors["min_discount"] = _("A discount is between 0 and 100%.")
        if self.model and self.model not in approval_types():
            errors["model"] = _("This record type has no approvals.")
        if errors:
            raise ValidationError(errors)


class ApprovalStep(models.Model):
    chain = models.ForeignKey(ApprovalChain, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(_("position"), default=1)
    name = models.CharField(_("name"), max_length=120)
    approver_kind = models.CharField(_("approver"), max_length=20, choices=ApproverKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    role = models.ForeignKey(
        "core.Role", verbose_name=_("role"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    department = models.ForeignKey(
        "core.Department",
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    mode = models.CharField(_("decided by"), max_length=3, choices=StepMode.choices, default=StepMode.ANY)
    remind_after_hours = models.PositiveIntegerField(
        _("remind after (hours)"), null=True, blank=True, help_text=_("Empty: no reminder.")
    )
    escalate_after_hours = models.PositiveIntegerField(
        _("escalate after (hours)"),
        null=True,
        blank=True,
        help_text=_("Empty: no escalation. Escalation adds the approvers' managers to the step."),
    )

    class Meta:
        verbose_name = _("approval step")
        verbose_name_plural = _("approval steps")
        ordering = ["chain", "position", "id"]

    def __str__(self) -> str:
        return f"{self.position}. {self.name}"

    def clean(self) -> None:
        needs = {
            ApproverKind.USER: ("user", _("Choose the user.")),
            ApproverKind.ROLE: ("role", _("Choose the role.")),
            ApproverKind.DEPARTMENT_HEAD: ("department", _("Choose the department.")),
        }.get(self.approver_kind)  # type: ignore[call-overload]
        if needs and getattr(self, f"{needs[0]}_id") is None:
            raise ValidationError({needs[0]: needs[1]})
        if (
            self.remind_after_hours is not None
            and self.escalate_after_hours is not None
            and self.escalate_after_hours < self.remind_after_hours
        ):
            raise ValidationError({"escalate_after_hours": _("Escalate after the reminder, not before.")})

    def as_plan(self) -> dict:
        return {
            "name": self.name,
            "kind": self.approver_kind,
            "user": self.user_id,
            "role": self.role_id,
            "department": self.department_id,
            "mode": self.mode,
            "remind": self.remind_after_hours,
            "escalate": self.escalate_after_hours,
        }


class ApprovalRequest(models.Model):
    model = models.CharField(_("record type"), max_length=60)
    object_id = models.CharField(max_length=40)
    title = models.CharField(_("record"), max_length=200)
    url = models.CharField(max_length=300, blank=True)
    chain = models.ForeignKey(
        ApprovalChain,
        verbose_name=_("chain"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    chain_name = models.CharField(_("chain"), max_length=120)
    plan = models.JSONField(default=list)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=RequestStatus.choices, default=RequestStatus.PENDING
    )
    step = models.PositiveSmallIntegerField(_("current step"), default=1)
    step_started_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(_("requested at"), default=timezone.now, db_index=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("approval request")
        verbose_name_plural = _("approval requests")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["model", "object_id"])]
        constraints = [
            models.UniqueConstraint(
                fields=["model", "object_id"],
                condition=models.Q(status="pending"),
                name="uniq_approval_pending_per_record",
            )
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("approvals:request", args=[self.pk])

    @property
    def step_count(self) -> int:
        return len(self.plan)

    def step_plan(self, position: int | None = None) -> dict:
        return self.plan[(position or self.step) - 1]


class ApprovalTask(models.Model):
    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="tasks")
    step = models.PositiveSmallIntegerField(_("step"))
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("approver"), on_delete=models.CASCADE, related_name="+"
    )
    on_behalf_of = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("on behalf of"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(
        _("status"), max_length=10, choices=TaskStatus.choices, default=TaskStatus.PENDING
    )
    comment = models.TextField(_("comment"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    escalated = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("approval task")
        verbose_name_plural = _("approval tasks")
        ordering = ["request", "step", "id"]
        indexes = [models.Index(fields=["approver", "status"])]
        constraints = [
            models.UniqueConstraint(fields=["request", "step", "approver"], name="uniq_approval_task"),
        ]

    def __str__(self) -> str:
        return f"{self.request} · {self.approver}"


class ApprovalEvent(models.Model):
    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    on_behalf_of = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    step = models.PositiveSmallIntegerField(null=True, blank=True)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("approval event")
        verbose_name_plural = _("approval events")

    def __str__(self) -> str:
        return f"{self.request_id} {self.kind}"


class Delegation(VersionedModel):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("approver"), on_delete=models.CASCADE, related_name="+"
    )
    delegate = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("delegate"), on_delete=models.CASCADE, related_name="+"
    )
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("until"))
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("delegation")
        verbose_name_plural = _("delegations")
        ordering = ["-starts_on", "-id"]

    def __str__(self) -> str:
        return f"{self.user} → {self.delegate} ({self.starts_on}–{self.ends_on})"

    def clean(self) -> None:
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValidationError({"ends_on": _("The end is before the start.")})
        if self.user_id and self.user_id == self.delegate_id:
            raise ValidationError({"delegate": _("Choose someone else as delegate.")})
