"""Queues and routing (ACD): queues, agent skills, availability and capacity, routing rules."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from kehu.core.models import VersionedModel

from .tickets import TicketChannel, TicketPriority


class RoutingMethod(models.TextChoices):
    ROUND_ROBIN = "round_robin", _("Round robin")
    LEAST_LOADED = "least_loaded", _("Least loaded")
    MANUAL = "manual", _("Manual (agents take tickets)")


class Queue(VersionedModel):
    name = models.CharField(_("name"), max_length=120, unique=True)
    code = models.SlugField(_("code"), max_length=40, unique=True)
    description = models.TextField(_("description"), blank=True)
    method = models.CharField(
        _("distribution"), max_length=14, choices=RoutingMethod.choices, default=RoutingMethod.LEAST_LOADED
    )
    fast_lane = models.BooleanField(
        _("fast lane"), default=False, help_text=_("For VIP and key customers: shown first to its agents.")
    )
    is_default = models.BooleanField(
        _("default queue"), default=False, help_text=_("Tickets no routing rule matches land here.")
    )
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Receives escalations of this queue's tickets."),
    )
    email_address = models.CharField(
        _("inbound email address"),
        max_length=254,
        blank=True,
        help_text=_("Mail received at this address becomes tickets in this queue."),
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("queue")
        verbose_name_plural = _("queues")
        ordering = ["-fast_lane", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True), name="uniq_default_queue"
            ),
            models.UniqueConstraint(
                fields=["email_address"], condition=~models.Q(email_address=""), name="uniq_queue_email"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from kehu.customers.normalize import clean_text, normalize_email

        self.name = clean_text(self.name)
        if self.email_address:
            try:
                self.email_address = normalize_email(self.email_address)
            except ValidationError as exc:
                raise ValidationError({"email_address": exc.messages}) from None
        if self.is_default and not self.active:
            raise ValidationError({"active": _("The default queue must be active.")})
        if self.is_default and Queue.objects.filter(is_default=True).exclude(pk=self.pk).exists():
            raise ValidationError({"is_default": _("Another queue is already the default.")})


class SkillKind(models.TextChoices):
    PRODUCT = "product", _("Product")
    LANGUAGE = "language", _("Language")
    CHANNEL = "channel", _("Channel")


class Skill(VersionedModel):
    kind = models.CharField(_("type"), max_length=10, choices=SkillKind.choices)
    code = models.CharField(
        _("code"), max_length=60, help_text=_("Language code (zh-hans, en), channel (email, phone) or SKU.")
    )
    name = models.CharField(_("name"), max_length=120)
    product = models.ForeignKey(
        "products.Product",
        verbose_name=_("product"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )

    class Meta:
        verbose_name = _("skill")
        verbose_name_plural = _("skills")
        ordering = ["kind", "name"]
        constraints = [models.UniqueConstraint(fields=["kind", "code"], name="uniq_skill_kind_code")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name}"

    def clean(self) -> None:
        self.code = (self.code or "").strip().lower()
        if self.kind == SkillKind.PRODUCT:
            if not self.product_id:
                raise ValidationError({"product": _("A product skill names its product.")})
            self.code = self.product.sku.lower()
        elif self.product_id:
            raise ValidationError({"product": _("Only product skills name a product.")})
        if self.kind == SkillKind.LANGUAGE and self.code not in dict(settings.LANGUAGES):
            raise ValidationError({"code": _("Use a language code of the system, e.g. zh-hans or en.")})
        if self.kind == SkillKind.CHANNEL and self.code not in TicketChannel.values:
            raise ValidationError({"code": _("Use a ticket channel code, e.g. email or phone.")})
        if not self.code:
            raise ValidationError({"code": _("Enter the code.")})


class Availability(models.TextChoices):
    ONLINE = "online", _("Online")
    AWAY = "away", _("Away")
    OFFLINE = "offline", _("Offline")


class AgentProfile(VersionedModel):
    """A user who works tickets: the queues they serve, their skills, availability and capacity."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("agent"),
        on_delete=models.CASCADE,
        related_name="agent_profile",
    )
    availability = models.CharField(
        _("availability"), max_length=8, choices=Availability.choices, default=Availability.OFFLINE
    )
    capacity = models.PositiveSmallIntegerField(
        _("capacity (open tickets)"),
        default=10,
        validators=[MaxValueValidator(500)],
        help_text=_(
            "Routing gives an agent no more active tickets than this; 0 = takes tickets by hand only."
        ),
    )
    queues = models.ManyToManyField(Queue, verbose_name=_("queues"), blank=True, related_name="agents")
    skills = models.ManyToManyField(Skill, verbose_name=_("skills"), blank=True, related_name="agents")
    last_assigned_at = models.DateTimeField(_("last assigned"), null=True, blank=True, editable=False)
    availability_changed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("agent profile")
        verbose_name_plural = _("agent profiles")
        ordering = ["user__username"]
        indexes = [models.Index(fields=["availability", "last_assigned_at"], name="ix_agent_availability")]

    def __str__(self) -> str:
        return str(self.user)


class RoutingRule(VersionedModel):
    """Sends matching tickets to a queue (first match by position). Empty conditions match everything."""

    name = models.CharField(_("name"), max_length=120)
    position = models.PositiveIntegerField(_("position"), default=100)
    active = models.BooleanField(_("active"), default=True)
    customer_types = models.JSONField(_("customer types"), default=list, blank=True)
    customer_tags = models.ManyToManyField(
        "core.Tag", verbose_name=_("customer tags"), blank=True, related_name="+"
    )
    categories = models.ManyToManyField(
        "service.TicketCategory", verbose_name=_("categories"), blank=True, related_name="+"
    )
    products = models.ManyToManyField(
        "products.Product", verbose_name=_("products"), blank=True, related_name="+"
    )
    languages = models.JSONField(_("languages"), default=list, blank=True)
    channels = models.JSONField(_("channels"), default=list, blank=True)
    queue = models.ForeignKey(Queue, verbose_name=_("queue"), on_delete=models.PROTECT, related_name="rules")
    required_skills = models.ManyToManyField(
        Skill, verbose_name=_("agents need these skills"), blank=True, related_name="+"
    )
    set_priority = models.CharField(
        _("raise priority to"), max_length=8, choices=TicketPriority.choices, blank=True
    )

    class Meta:
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from kehu.customers.models import CustomerType

        errors = {}
        if not isinstance(self.customer_types, list) or not set(self.customer_types) <= set(
            CustomerType.values
        ):
            errors["customer_types"] = _("Choose customer types from the list.")
        if not isinstance(self.languages, list) or not set(self.languages) <= set(dict(settings.LANGUAGES)):
            errors["languages"] = _("Choose languages from the list.")
        if not isinstance(self.channels, list) or not set(self.channels) <= set(TicketChannel.values):
            errors["channels"] = _("Choose channels from the list.")
        if errors:
            raise ValidationError(errors)
