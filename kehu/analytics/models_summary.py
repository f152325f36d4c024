"""A summary of the order lines that the report builder reads instead of the lines when a report allows it
(issue #11 performance; ADR 0011, "Performance addendum").

`OrderLineMonth` holds, per month, the customer's RFM segment ("" when the customer has no score), currency,
`counted` flag and the order's owner, the number of order lines, their net amount and quantity. On PostgreSQL it is kept up to date
inside the database (migration 0007_anperf): statement-level triggers on `sales_orderline` append one signed
delta row per group changed by each INSERT, UPDATE or DELETE (append-only: two order entries never wait for each
other on a summary row); the scoring run rebuilds it from the lines in its own transaction (compacting the
deltas and attributing every line to the customer's new segment). Any change to `analytics_customerscore`
outside that rebuild, or a TRUNCATE of either table, marks it stale (`analytics_linemonth_state`), and stale
means unused. Never shown or exposed: it is not a registered model."""

from __future__ import annotations

from django.db import models


class OrderLineMonth(models.Model):
    month = models.DateField()
    segment = models.CharField(max_length=20, blank=True)
    currency = models.CharField(max_length=3)
    counted = models.BooleanField()
    owner_id = models.BigIntegerField(
        null=True
    )  # the order's owner (scope), a plain id: no join, no FK check
    lines = models.BigIntegerField()
    amount = models.DecimalField(max_digits=24, decimal_places=2)
    quantity = models.DecimalField(max_digits=24, decimal_places=3)

    class Meta:
        default_permissions = ()
        indexes = [models.Index(fields=["month", "segment"], name="ix_linemonth")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.segment or '-'} {self.currency}: {self.lines}"
