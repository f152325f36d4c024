"""Derived customer value data: one score row per customer with purchases, written in bulk by a scoring run.

Scores are derived data: a run replaces them all in one transaction and is itself recorded (ScoringRun, one
audit entry per run), but single score rows are never audited — they are a function of the order history."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .rfm import Segment


class RunStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ScoringRun(models.Model):
    """One scoring run: settings, fitted parameters, convergence, diagnostics, timings."""

    started_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=RunStatus.choices, default=RunStatus.RUNNING)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    as_of = models.DateField(_("as of"))
    currency = models.CharField(_("currency"), max_length=3)
    bins = models.PositiveSmallIntegerField(_("quantile bins"), default=5)
    horizon_months = models.PositiveSmallIntegerField(_("horizon (months)"), default=12)
    discount_rate = models.FloatField(_("annual discount rate"), default=0.1)
    customers = models.PositiveIntegerField(_("customers scored"), default=0)
    #: "bgnbd" when BG/NBD fitted, "heuristic" when it fell back
    purchase_model = models.CharField(max_length=12, blank=True)
    #: "gamma_gamma" or "mean" (each customer's own average spend)
    spend_model = models.CharField(max_length=12, blank=True)
    bgnbd = models.JSONField(default=dict, blank=True)  # params, log_likelihood, iterations, message
    gamma_gamma = models.JSONField(default=dict, blank=True)
    frequency_table = models.JSONField(default=list, blank=True)
    messages = models.JSONField(default=list, blank=True)  # warnings a person can act on
    timings = models.JSONField(default=dict, blank=True)  # seconds per phase

    class Meta:
        verbose_name = _("scoring run")
        verbose_name_plural = _("scoring runs")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.as_of} ({self.get_status_display()})"


class CustomerScore(models.Model):
    customer = models.OneToOneField(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="analytics_score",
    )
    #: no database constraint and no index (migration 0008): a run's rows all point at it (ADR 0011)
    run = models.ForeignKey(
        ScoringRun,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    currency = models.CharField(_("currency"), max_length=3)
    first_purchase = models.DateField(_("first purchase"))
    last_purchase = models.DateField(_("last purchase"))
    recency_days = models.PositiveIntegerField(_("days since last purchase"))
    frequency = models.PositiveIntegerField(_("purchases"))
    monetary = models.DecimalField(_("net revenue"), max_digits=18, decimal_places=2)
    r_score = models.PositiveSmallIntegerField(_("R score"))
    f_score = models.PositiveSmallIntegerField(_("F score"))
    m_score = models.PositiveSmallIntegerField(_("M score"))
    #: looked up through ix_score_segment (segment, customer) — no separate index (migration 0008)
    segment = models.CharField(_("RFM segment"), max_length=20, choices=Segment.choices)
    p_alive = models.FloatField(_("probability active"))
    expected_purchases = models.FloatField(_("expected purchases"))
    expected_spend = models.DecimalField(_("expected spend per purchase"), max_digits=18, decimal_places=2)
    clv = models.DecimalField(_("customer lifetime value"), max_digits=18, decimal_places=2)
    computed_at = models.DateTimeField(_("computed"))

    class Meta:
        verbose_name = _("customer score")
        verbose_name_plural = _("customer scores")
        ordering = ["-clv", "customer_id"]
        indexes = [models.Index(fields=["segment", "customer"], name="ix_score_segment")]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.segment}"


# value segments, strategies and churn risk (issue #11 items 3 and 4)
from .models_nba import *  # noqa: E402,F401,F403 - Next Best Activity models (issue #11 item 5)
from .models_reports import DashboardWidget, Report  # noqa: E402, F401 - report builder (anreport)
from .models_scorecard import *  # noqa: E402, F403 - KPIs and the balanced scorecard (issue #11, item 6)
from .models_summary import OrderLineMonth  # noqa: E402, F401 - report builder's summary of order lines
from .models_value import (  # noqa: E402, F401
    ChurnModel,
    CustomerValue,
    RelationshipStrategy,
    ValueCycle,
    ValueSegment,
    ValueSettings,
    ValueSnapshot,
)
