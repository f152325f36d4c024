"""The portal's own records: who may sign in to the portal for which customer, what partners registered,
what portal users asked staff to change, and what they did (shown on the customer's timeline).

A portal user is a `core.User` without roles, linked here to one customer (the account, or a person for a
B2C customer). The link, not the user, decides what the portal user sees (kehu/portal/scope.py).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class PortalKind(models.TextChoices):
    CUSTOMER = "customer", _("Customer user")
    PARTNER = "partner", _("Partner user")


class PortalUser(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="portal_profile",
        verbose_name=_("user"),
    )
    #: the account (or the individual customer) whose records this user sees
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.CASCADE,
        related_name="portal_users",
        verbose_name=_("customer"),
    )
    #: the person this user is (a contact of the account); their details and consent are the ones edited
    contact = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("contact"),
    )
    kind = models.CharField(_("kind"), max_length=10, choices=PortalKind.choices, default=PortalKind.CUSTOMER)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    invited_at = models.DateTimeField(_("invited at"), default=timezone.now)
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True)
    totp_secret = models.CharField(max_length=64, blank=True)
    totp_enabled = models.BooleanField(_("two-step sign-in"), default=False)

    class Meta:
        verbose_name = _("portal user")
        verbose_name_plural = _("portal users")

    def __str__(self) -> str:
        return str(self.user)

    @property
    def person(self):
        """The customer record of the person: the contact, or the customer itself (B2C)."""
        return self.contact or self.customer

    @property
    def is_partner(self) -> bool:
        return self.kind == PortalKind.PARTNER


class PartnerLink(models.Model):
    """A customer served through a partner (distributor, reseller): the partner's users see its orders."""

    partner = models.ForeignKey(
        "customers.Customer",
        on_delete=models.CASCADE,
        related_name="partner_customers",
        verbose_name=_("partner"),
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="partners", verbose_name=_("customer")
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("partner customer")
        verbose_name_plural = _("partner customers")
        constraints = [models.UniqueConstraint(fields=["partner", "customer"], name="uq_partner_customer")]

    def __str__(self) -> str:
        return f"{self.partner_id} → {self.customer_id}"


class DealRegistration(models.Model):
    """A deal a partner registered in the portal: the lead it created and whether it met an existing one."""

    class Outcome(models.TextChoices):
        NEW = "new", _("New prospect")
        CONFLICT = "conflict", _("Conflict: already known")

    partner = models.ForeignKey(
        "customers.Customer",
        on_delete=models.CASCADE,
        related_name="deal_registrations",
        verbose_name=_("partner"),
    )
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    lead = models.OneToOneField(
        "sales.Lead", on_delete=models.CASCADE, related_name="partner_registration", verbose_name=_("lead")
    )
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices, default=Outcome.NEW)
    conflict_note = models.CharField(_("conflict"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("registered at"), default=timezone.now)

    class Meta:
        verbose_name = _("deal registration")
        verbose_name_plural = _("deal registrations")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.partner_id}: {self.lead_id}"


class ChangeRequest(models.Model):
    """A portal user's change of their own details, waiting for staff (KEHU_PORTAL_PROFILE_EDIT=request)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="portal_change_requests"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    changes = models.JSONField(_("changes"), default=dict)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("requested at"), default=timezone.now)

    class Meta:
        verbose_name = _("change request")
        verbose_name_plural = _("change requests")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.status}"


class PortalActivity(models.Model):
    """What a portal user did; each one is also an entry on the customer's timeline for staff."""

    portal_user = models.ForeignKey(PortalUser, on_delete=models.CASCADE, related_name="activities")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=40)
    summary = models.CharField(max_length=300)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("portal activity")
        verbose_name_plural = _("portal activities")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return self.summary
