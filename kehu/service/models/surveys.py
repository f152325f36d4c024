"""Satisfaction surveys: CSAT after resolution, NPS, and the ten customer-perceived service factors of the
CRM practice loop (SPEC §7) as survey dimensions."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from kehu.core.models import VersionedModel


class ServiceFactor(models.TextChoices):
    ATTITUDE = "attitude", _("Attitude")
    EXPECTATIONS = "expectations", _("Understanding expectations")
    QUALITY = "quality", _("Perceived quality")
    RELIABILITY = "reliability", _("Reliability")
    COMMUNICATION = "communication", _("Communication")
    CUSTOMISATION = "customisation", _("Customisation")
    RECOGNITION = "recognition", _("Recognition")
    COMMITMENT = "commitment", _("Commitment")
    SATISFACTION_AUDIT = "satisfaction_audit", _("Satisfaction audit")
    RETENTION = "retention", _("Retention")


class SurveyKind(models.TextChoices):
    CSAT = "csat", _("Satisfaction (CSAT, 1–5)")
    NPS = "nps", _("Net promoter score (NPS, 0–10)")


SCORE_RANGE = {SurveyKind.CSAT: (1, 5), SurveyKind.NPS: (0, 10)}
FACTOR_RANGE = (1, 5)


class SurveyChannel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    PORTAL = "portal", _("Customer portal")
    PHONE = "phone", _("Phone call")


class SurveyTrigger(models.TextChoices):
    RESOLVED = "resolved", _("After a ticket is resolved")
    MANUAL = "manual", _("Sent by hand or by a call list")


class Survey(VersionedModel):
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("type"), max_length=4, choices=SurveyKind.choices, default=SurveyKind.CSAT)
    channel = models.CharField(
        _("channel"), max_length=8, choices=SurveyChannel.choices, default=SurveyChannel.EMAIL
    )
    trigger = models.CharField(
        _("sent"), max_length=10, choices=SurveyTrigger.choices, default=SurveyTrigger.RESOLVED
    )
    question = models.CharField(_("question"), max_length=300)
    dimensions = models.JSONField(
        _("service factors asked"), default=list, blank=True, help_text=_("Each asked on a 1–5 scale.")
    )
    send_after_hours = models.PositiveIntegerField(_("send after (hours)"), default=1)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("survey")
        verbose_name_plural = _("surveys")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if not isinstance(self.dimensions, list) or not set(self.dimensions) <= set(ServiceFactor.values):
            raise ValidationError({"dimensions": _("Choose service factors from the list.")})
        if len(set(self.dimensions)) != len(self.dimensions):
            raise ValidationError({"dimensions": _("Each factor is asked once.")})


class ResponseStatus(models.TextChoices):
    PENDING = "pending", _("To send")
    SENT = "sent", _("Sent")
    ANSWERED = "answered", _("Answered")
    EXPIRED = "expired", _("Expired")


class SurveyResponse(VersionedModel):
    """One invitation and its answer (score, factor scores, comment), on the ticket, customer and agent."""

    survey = models.ForeignKey(
        Survey, verbose_name=_("survey"), on_delete=models.PROTECT, related_name="responses"
    )
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="survey_responses",
    )
    ticket = models.ForeignKey(
        "service.Ticket",
        verbose_name=_("ticket"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="survey_responses",
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("agent"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    token = models.CharField(max_length=48, unique=True, editable=False)
    status = models.CharField(
        _("status"), max_length=10, choices=ResponseStatus.choices, default=ResponseStatus.PENDING
    )
    send_at = models.DateTimeField(_("send at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    responded_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    score = models.SmallIntegerField(_("score"), null=True, blank=True)
    factor_scores = models.JSONField(_("service factor scores"), default=dict, blank=True)
    comment = models.TextField(_("comment"), blank=True)

    class Meta:
        verbose_name = _("survey response")
        verbose_name_plural = _("survey responses")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["agent", "responded_at"], name="ix_survey_agent"),
            models.Index(fields=["customer", "-created_at"], name="ix_survey_customer"),
            models.Index(fields=["status", "send_at"], name="ix_survey_outbox"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["survey", "ticket"],
                condition=models.Q(ticket__isnull=False),
                name="uniq_survey_ticket",
            )
        ]

    def __str__(self) -> str:
        return f"{self.survey} · {self.customer_id}"

    def clean(self) -> None:
        errors = {}
        if self.score is not None and self.survey_id:
            low, high = SCORE_RANGE[SurveyKind(self.survey.kind)]
            if not low <= self.score <= high:
                errors["score"] = _("The score is from %(low)d to %(high)d.") % {"low": low, "high": high}
        if not isinstance(self.factor_scores, dict):
            errors["factor_scores"] = _("Factor scores are a mapping of factor to score.")
        elif self.survey_id:
            asked = set(self.survey.dimensions)
            unknown = set(self.factor_scores) - asked
            if unknown:
                errors["factor_scores"] = _("Not asked in this survey: %(f)s") % {
                    "f": ", ".join(sorted(unknown))
                }
            elif any(
                not isinstance(v, int) or isinstance(v, bool) or not FACTOR_RANGE[0] <= v <= FACTOR_RANGE[1]
                for v in self.factor_scores.values()
            ):
                errors["factor_scores"] = _("Each factor is scored from 1 to 5.")
        if self.status == ResponseStatus.ANSWERED and self.score is None:
            errors["score"] = _("An answered survey has a score.")
        if errors:
            raise ValidationError(errors)
