"""Tickets: service requests, complaints, inquiries and repairs from every channel, their conversation
(public replies, customer messages, internal notes), attachments, categories and canned answers."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.models import CustomFieldsModel, OwnedModel, VersionedModel


class TicketStatus(models.TextChoices):
    NEW = "new", _("New")
    OPEN = "open", _("Open")
    PENDING = "pending", _("Pending customer")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


#: statuses in which a ticket is work to do (queues, SLA clocks, agent load)
ACTIVE_STATUSES = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING)


class TicketPriority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


PRIORITY_RANK = {
    TicketPriority.LOW: 0,
    TicketPriority.NORMAL: 1,
    TicketPriority.HIGH: 2,
    TicketPriority.URGENT: 3,
}


class TicketKind(models.TextChoices):
    REQUEST = "request", _("Service request")
    COMPLAINT = "complaint", _("Complaint")
    INQUIRY = "inquiry", _("Inquiry")
    REPAIR = "repair", _("Repair")


class TicketChannel(models.TextChoices):
    EMAIL = "email", _("Email")
    PHONE = "phone", _("Phone")
    WEB_FORM = "web_form", _("Web form")
    PORTAL = "portal", _("Customer portal")
    WECHAT = "wechat", _("WeChat")
    AGENT = "agent", _("Entered by an agent")
    API = "api", _("API")


class TicketCategory(VersionedModel):
    name = models.CharField(_("name"), max_length=120)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent category"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("ticket category")
        verbose_name_plural = _("ticket categories")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from kehu.customers.normalize import clean_text

        self.name = clean_text(self.name)
        if not self.name:
            raise ValidationError({"name": _("Enter a name.")})
        node, seen = self.parent, set()
        while node is not None and node.pk not in seen:
            if self.pk and node.pk == self.pk:
                raise ValidationError({"parent": _("A category cannot be placed under itself.")})
            seen.add(node.pk)
            node = node.parent


class Ticket(OwnedModel, CustomFieldsModel):
    """One case. `owner` is the assigned agent (empty while the ticket waits in its queue); the record scope
    follows the assignee, plus the unassigned tickets of the queues an agent works in and the tickets of the
    customers a user may see (kehu/service/registration.py, ADR 0008)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned to"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    subject = models.CharField(_("subject"), max_length=200)
    kind = models.CharField(_("type"), max_length=10, choices=TicketKind.choices, default=TicketKind.REQUEST)
    status = models.CharField(
        _("status"), max_length=10, choices=TicketStatus.choices, default=TicketStatus.NEW
    )
    priority = models.CharField(
        _("priority"), max_length=8, choices=TicketPriority.choices, default=TicketPriority.NORMAL
    )
    channel = models.CharField(
        _("channel"), max_length=10, choices=TicketChannel.choices, default=TicketChannel.AGENT
    )
    category = models.ForeignKey(
        TicketCategory,
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tickets",
    )
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tickets",
    )
    contact = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("contact"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="contact_tickets",
    )
    installed_product = models.ForeignKey(
        "products.InstalledProduct",
        verbose_name=_("installed product"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tickets",
    )
    #: the unit's warranty had ended when the ticket was opened (flag for the agent and for reports)
    out_of_warranty = models.BooleanField(_("out of warranty"), default=False, editable=False)
    service_contract = models.ForeignKey(
        "service.ServiceContract",
        verbose_name=_("service contract"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tickets",
    )
    queue = models.ForeignKey(
        "service.Queue",
        verbose_name=_("queue"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tickets",
    )
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES, blank=True)
    requester_name = models.CharField(_("requester name"), max_length=200, blank=True)
    requester_email = models.CharField(_("requester email"), max_length=254, blank=True)
    watchers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("watchers"), blank=True, related_name="watched_tickets"
    )
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="merged_tickets",
        editable=False,
    )
    split_from = models.ForeignKey(
        "self",
        verbose_name=_("split from"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="split_tickets",
        editable=False,
    )
    # --- SLA clock (kehu/service/services/sla.py keeps these consistent; never edited by hand)
    sla_policy = models.ForeignKey(
        "service.SlaPolicy",
        verbose_name=_("SLA policy"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tickets",
        editable=False,
    )
    first_response_due = models.DateTimeField(_("first response due"), null=True, blank=True, editable=False)
    resolution_due = models.DateTimeField(_("resolution due"), null=True, blank=True, editable=False)
    first_responded_at = models.DateTimeField(_("first response at"), null=True, blank=True, editable=False)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True, editable=False)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True, editable=False)
    sla_paused_at = models.DateTimeField(_("SLA paused since"), null=True, blank=True, editable=False)
    #: business minutes the resolution clock stood still (pending customer), added to its target
    sla_paused_minutes = models.PositiveIntegerField(
        _("SLA paused (business minutes)"), default=0, editable=False
    )
    first_response_warned = models.BooleanField(default=False, editable=False)
    first_response_breached = models.BooleanField(_("first response breached"), default=False, editable=False)
    resolution_warned = models.BooleanField(default=False, editable=False)
    resolution_breached = models.BooleanField(_("resolution breached"), default=False, editable=False)
    #: the most urgent running target (queues sort by it); empty while paused or when nothing runs
    sla_next_due = models.DateTimeField(_("next SLA due"), null=True, blank=True, editable=False)
    #: the next instant the SLA scheduler must look at this ticket (a warning or a breach to record)
    sla_check_at = models.DateTimeField(null=True, blank=True, editable=False)
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True, editable=False)
    # --- activity
    taken_at = models.DateTimeField(_("assigned at"), null=True, blank=True, editable=False)
    last_activity_at = models.DateTimeField(_("last activity"), default=timezone.now, editable=False)
    message_count = models.PositiveIntegerField(_("messages"), default=0, editable=False)
    reopened_count = models.PositiveIntegerField(_("reopened"), default=0, editable=False)

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        ordering = ["-created_at", "-id"]
        indexes = [
            # an agent's queue page: active tickets of a queue, most urgent SLA first (partial: the closed
            # history, most of the table, is not in it)
            models.Index(
                fields=["queue", "sla_next_due", "id"],
                condition=models.Q(status__in=["new", "open", "pending"]),
                name="ix_ticket_queue_active",
            ),
            models.Index(
                fields=["queue", "sla_next_due", "id"],
                condition=models.Q(status__in=["new", "open", "pending"], owner__isnull=True),
                name="ix_ticket_queue_unassigned",
            ),
            # "my tickets" and agent load (count of active tickets per agent)
            models.Index(
                fields=["owner", "sla_next_due", "id"],
                condition=models.Q(status__in=["new", "open", "pending"]),
                name="ix_ticket_owner_active",
            ),
            models.Index(fields=["owner", "status", "-updated_at"], name="ix_ticket_owner_status"),
            # the customer's 360° panel and timeline links
            models.Index(fields=["customer", "-created_at", "-id"], name="ix_ticket_customer"),
            models.Index(fields=["status", "-created_at"], name="ix_ticket_status_created"),
            # the SLA scheduler's scan
            models.Index(
                fields=["sla_check_at"],
                condition=models.Q(sla_check_at__isnull=False),
                name="ix_ticket_sla_check",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(merged_into=models.F("id")), name="ticket_not_merged_into_itself"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}" if self.pk else self.subject

    def get_absolute_url(self) -> str:
        return reverse("service:ticket", args=[self.pk])

    @property
    def reference(self) -> str:
        """The token that threads emails onto this ticket, e.g. [#KH-1024]."""
        return f"[#{settings.KEHU_TICKET_TOKEN_PREFIX}-{self.pk}]"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def sla_paused(self) -> bool:
        return self.sla_paused_at is not None

    def clean(self) -> None:
        from kehu.customers.normalize import clean_text, normalize_email

        errors: dict[str, object] = {}
        self.subject = clean_text(self.subject)
        if not self.subject:
            errors["subject"] = _("Enter a subject.")
        self.requester_name = clean_text(self.requester_name)
        if self.requester_email:
            try:
                self.requester_email = normalize_email(self.requester_email)
            except ValidationError as exc:
                errors["requester_email"] = exc.messages
        if self.pk and self.merged_into_id == self.pk:
            errors["merged_into"] = _("A ticket cannot be merged into itself.")
        customer = self.customer if self.customer_id else None
        if self.contact_id:
            contact = self.contact
            if contact.is_organization:
                errors["contact"] = _("The contact must be a person.")
            elif customer is not None and contact.pk != customer.pk and contact.account_id != customer.pk:
                errors["contact"] = _("The contact does not belong to this customer.")
            elif customer is None:
                errors["customer"] = _("Choose the customer of this contact.")
        if self.installed_product_id:
            unit = self.installed_product
            holders = {self.customer_id, self.contact_id} - {None}
            unit_account = unit.customer.account_id
            if not holders:
                errors["customer"] = _("Choose the customer who holds this product.")
            elif unit.customer_id not in holders and unit_account not in holders:
                errors["installed_product"] = _("This product unit is not held by the ticket's customer.")
        if self.service_contract_id and customer is not None:
            if self.service_contract.customer_id not in {customer.pk, customer.account_id}:
                errors["service_contract"] = _("This service contract belongs to another customer.")
        if errors:
            raise ValidationError(errors)


class MessageKind(models.TextChoices):
    CUSTOMER = "customer", _("From the customer")
    REPLY = "reply", _("Public reply")
    NOTE = "note", _("Internal note")
    SYSTEM = "system", _("System")


class DeliveryStatus(models.TextChoices):
    NONE = "", _("Not sent")
    PENDING = "pending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class TicketMessage(VersionedModel):
    """One entry of a ticket's conversation. A public reply is emailed to the requester; a note is internal."""

    ticket = models.ForeignKey(
        Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="messages"
    )
    kind = models.CharField(_("type"), max_length=10, choices=MessageKind.choices)
    #: the staff member who wrote or logged it (attribution, from the request)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("written by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    from_name = models.CharField(_("from (name)"), max_length=200, blank=True)
    from_email = models.CharField(_("from (email)"), max_length=254, blank=True)
    to = models.JSONField(_("to"), default=list, blank=True)
    cc = models.JSONField(_("cc"), default=list, blank=True)
    body = models.TextField(_("message"), blank=True)
    message_id = models.CharField(_("Message-ID"), max_length=255, blank=True, db_index=True)
    in_reply_to = models.CharField(_("In-Reply-To"), max_length=255, blank=True)
    delivery_status = models.CharField(
        _("delivery"), max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.NONE, blank=True
    )
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    delivery_error = models.CharField(_("delivery error"), max_length=300, blank=True)
    inbound = models.ForeignKey(
        "service.InboundMessage",
        verbose_name=_("received email"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("ticket message")
        verbose_name_plural = _("ticket messages")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at", "id"], name="ix_ticketmessage_ticket")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · #{self.ticket_id}"

    @property
    def is_public(self) -> bool:
        return self.kind in (MessageKind.CUSTOMER, MessageKind.REPLY)

    def clean(self) -> None:
        if self.kind == MessageKind.NOTE and (self.to or self.cc):
            raise ValidationError({"to": _("An internal note has no recipients.")})
        if self.kind == MessageKind.REPLY and not self.to:
            raise ValidationError({"to": _("A public reply needs a recipient email address.")})


class TicketAttachment(models.Model):
    """A file of a ticket (from an email, an agent's upload). Type and size are checked by the services
    (kehu/service/services/attachments.py) before a file is kept."""

    ticket = models.ForeignKey(
        Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="attachments"
    )
    message = models.ForeignKey(
        TicketMessage,
        verbose_name=_("message"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="attachments",
    )
    file = models.FileField(_("file"), upload_to="service/attachments/%Y/%m/", max_length=300)
    filename = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("type"), max_length=120)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    sha256 = models.CharField(max_length=64, editable=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="ix_attachment_ticket")]

    def __str__(self) -> str:
        return self.filename

    def get_absolute_url(self) -> str:
        return reverse("service:attachment", args=[self.pk])


class CannedResponse(VersionedModel):
    """A canned answer (macro): text with placeholders and, optionally, the status it sets."""

    title = models.CharField(_("title"), max_length=120)
    body = models.TextField(
        _("text"), help_text=_("Placeholders: {customer}, {requester}, {agent}, {ticket}, {subject}")
    )
    category = models.ForeignKey(
        TicketCategory,
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="canned_responses",
    )
    set_status = models.CharField(
        _("then set status"),
        max_length=10,
        choices=[
            (TicketStatus.PENDING, TicketStatus.PENDING.label),
            (TicketStatus.RESOLVED, TicketStatus.RESOLVED.label),
        ],
        blank=True,
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("canned response")
        verbose_name_plural = _("canned responses")
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        from kehu.customers.normalize import clean_text

        self.title = clean_text(self.title)
        if not self.title:
            raise ValidationError({"title": _("Enter a title.")})
        if not (self.body or "").strip():
            raise ValidationError({"body": _("Enter the text.")})
        try:
            self.body.format(customer="", requester="", agent="", ticket="", subject="")
        except (KeyError, IndexError, ValueError):
            raise ValidationError(
                {
                    "body": _(
                        "Unknown placeholder: use {customer}, {requester}, {agent}, {ticket} or {subject}."
                    )
                }
            ) from None
