"""Segments (客户细分): who a campaign targets.

A static segment holds its members in SegmentMember (a snapshot); a dynamic segment is a rule definition
compiled to one SQL query by kehu.marketing.segments. Both are read through ``segments.members()``.
"""

from __future__ import annotations

from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from kehu.core.models import OwnedModel


class SegmentKind(models.TextChoices):
    DYNAMIC = "dynamic", _("Dynamic (rules)")
    STATIC = "static", _("Static (snapshot)")


class Segment(OwnedModel):
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(
        _("kind"), max_length=16, choices=SegmentKind.choices, default=SegmentKind.DYNAMIC
    )
    definition = models.JSONField(_("rules"), default=dict, blank=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("marketing:segment", args=[self.pk])


class SegmentMember(models.Model):
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="members")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="marketing_segment_memberships"
    )
    added_at = models.DateTimeField(_("added at"), auto_now_add=True)

    class Meta:
        verbose_name = _("segment member")
        verbose_name_plural = _("segment members")
        constraints = [
            models.UniqueConstraint(fields=["segment", "customer"], name="marketing_segment_member_once")
        ]

    def __str__(self) -> str:
        return f"{self.segment_id}:{self.customer_id}"
