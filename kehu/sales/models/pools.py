"""Public pools (公海) and the private pool (私海: customers with an owner).

A customer without an owner sits in one or more public pools (PoolEntry). Reps claim (the customer gets them
as owner and leaves every pool) up to their role's claim limit, and release (back to a pool with a reason).
Recycle rules return a rep's customers to a pool after N days without follow-up or M days without a deal,
after a warning. Every claim, release, warning and recycle is a PoolEvent: the history of who held a
customer and why it came back."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.models import VersionedModel


class CustomerPool(VersionedModel):
    """A public pool, by region (department) and/or product line. Who may claim from it: members of the
    department subtree (empty = everybody with the claim right)."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    department = models.ForeignKey(
        "core.Department",
        verbose_name=_("region / department"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    product_line = models.ForeignKey(
        "products.ProductCategory",
        verbose_name=_("product line"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    active = models.BooleanField(_("active"), default=True)
    hide_contact_details = models.BooleanField(_("hide phone and email until claimed"), default=True)
    reclaim_cooldown_days = models.PositiveIntegerField(
        _("days before the previous owner may claim again"), default=7
    )

    class Meta:
        verbose_name = _("public pool")
        verbose_name_plural = _("public pools")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PoolEntry(models.Model):
    """A customer currently in a pool (deleted when claimed; the PoolEvent rows keep the history)."""

    pool = models.ForeignKey(CustomerPool, on_delete=models.CASCADE, related_name="entries")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="pool_entries")
    entered_at = models.DateTimeField(default=timezone.now)
    previous_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(_("reason"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("pool customer")
        verbose_name_plural = _("pool customers")
        ordering = ["pool", "-entered_at"]
        constraints = [models.UniqueConstraint(fields=["pool", "customer"], name="uniq_pool_customer")]
        indexes = [models.Index(fields=["pool", "-entered_at", "-id"], name="ix_poolentry_pool")]

    def __str__(self) -> str:
        return f"{self.customer_id} in {self.pool_id}"


class PoolEventKind(models.TextChoices):
    RELEASED = "released", _("Released to the pool")
    RECYCLED = "recycled", _("Recycled by a rule")
    WARNED = "warned", _("Recycle warning")
    CLAIMED = "claimed", _("Claimed")
    ASSIGNED = "assigned", _("Assigned from the pool")


class PoolEvent(models.Model):
    """Append-only history of a customer's moves between pools and owners."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="pool_events")
    pool = models.ForeignKey(
        CustomerPool, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    kind = models.CharField(max_length=9, choices=PoolEventKind.choices)
    at = models.DateTimeField(default=timezone.now)
    from_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rule = models.ForeignKey(
        "sales.RecycleRule", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("pool history")
        verbose_name_plural = _("pool history")
        ordering = ["customer", "-at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-at"], name="ix_poolevent_customer"),
            models.Index(fields=["from_owner", "kind", "at"], name="ix_poolevent_owner"),
            # the pool settings page lists a pool's latest moves
            models.Index(fields=["pool", "-at"], name="ix_poolevent_pool"),
            # a rep's claims today (the claim limit per day)
            models.Index(fields=["to_owner", "kind", "at"], name="ix_poolevent_claims"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.kind}"


class RecycleRule(VersionedModel):
    """Return owners' customers to `pool` when they had no follow-up (interaction) for `no_followup_days` or
    no won deal/order for `no_deal_days`; owners are warned `warn_days` before. Applies to customers owned by
    members of `department` (subtree; empty = everybody). Run daily by `manage.py recycle_customers`."""

    name = models.CharField(_("name"), max_length=120)
    pool = models.ForeignKey(
        CustomerPool, verbose_name=_("returns to pool"), on_delete=models.CASCADE, related_name="rules"
    )
    department = models.ForeignKey(
        "core.Department",
        verbose_name=_("owners in department"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    no_followup_days = models.PositiveIntegerField(
        _("days without follow-up"), null=True, blank=True, validators=[MinValueValidator(1)]
    )
    no_deal_days = models.PositiveIntegerField(
        _("days without a deal"), null=True, blank=True, validators=[MinValueValidator(1)]
    )
    warn_days = models.PositiveIntegerField(_("warn owners (days before)"), default=3)
    exclude_lifecycle = models.CharField(
        _("never recycle customers in stage"), max_length=10, blank=True, help_text=_("e.g. loyal customers")
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("recycle rule")
        verbose_name_plural = _("recycle rules")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if not self.no_followup_days and not self.no_deal_days:
            errors["no_followup_days"] = _(
                "Give the days without follow-up, the days without a deal, or both."
            )
        for name in ("no_followup_days", "no_deal_days"):
            days = getattr(self, name)
            if days and self.warn_days >= days:
                errors["warn_days"] = _("The warning must come before the customer is recycled.")
        if errors:
            raise ValidationError(errors)


class ClaimLimit(VersionedModel):
    """How many customers a holder of `role` may own (claimed or assigned) before claiming is refused; with
    several roles the largest limit counts; no limit row = unlimited."""

    role = models.OneToOneField(
        "core.Role", verbose_name=_("role"), on_delete=models.CASCADE, related_name="claim_limit"
    )
    max_customers = models.PositiveIntegerField(_("largest private pool"), default=200)
    max_claims_per_day = models.PositiveIntegerField(_("claims per day"), default=20)

    class Meta:
        verbose_name = _("claim limit")
        verbose_name_plural = _("claim limits")

    def __str__(self) -> str:
        return f"{self.role}: {self.max_customers}"
