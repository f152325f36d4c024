"""Money arithmetic for quotes, orders and receivables: Decimal only, rounded half-up to the cent.

Every amount the sales app stores is computed here, so a quote, the order made from it and the PDF printed
from it agree to the cent. Rounding happens per line (net, then tax on the rounded net), and totals are the
sums of rounded line figures — the way Chinese VAT invoices (增值税发票) add up.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

CENT = Decimal("0.01")
ZERO = Decimal("0")
HUNDRED = Decimal("100")


class VatRate(models.TextChoices):
    """VAT presets of the PRC (2019 onwards): 13 % goods, 9 % transport/construction, 6 % services."""

    STANDARD = "13.00", _("13% VAT (goods)")
    REDUCED = "9.00", _("9% VAT (transport, construction)")
    SERVICES = "6.00", _("6% VAT (services)")
    EXEMPT = "0.00", _("0% (exempt or zero-rated)")


def cents(value: Decimal | int | str) -> Decimal:
    """Round to the cent, half-up (0.005 → 0.01), never through float."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class LineFigures:
    gross: Decimal  # quantity × unit price, rounded
    discount: Decimal  # gross − net
    net: Decimal  # after the line discount, rounded
    tax: Decimal  # VAT on the rounded net, rounded
    total: Decimal  # net + tax


def line_figures(
    *, quantity: Decimal, unit_price: Decimal, discount_percent: Decimal, tax_rate: Decimal
) -> LineFigures:
    """One line's figures. Quantities may be negative (a return line); the signs follow the quantity."""
    gross = cents(Decimal(quantity) * Decimal(unit_price))
    net = cents(Decimal(quantity) * Decimal(unit_price) * (HUNDRED - Decimal(discount_percent)) / HUNDRED)
    tax = cents(net * Decimal(tax_rate) / HUNDRED)
    return LineFigures(gross=gross, discount=gross - net, net=net, tax=tax, total=net + tax)


@dataclass(frozen=True)
class Totals:
    gross: Decimal
    discount: Decimal
    net: Decimal
    tax: Decimal
    total: Decimal

    @property
    def discount_percent(self) -> Decimal:
        """The document's overall discount, in percent of the gross (2 decimals, half-up)."""
        if not self.gross:
            return ZERO
        return cents(self.discount * HUNDRED / self.gross)


def totals(lines: list[LineFigures]) -> Totals:
    return Totals(
        gross=sum((f.gross for f in lines), ZERO),
        discount=sum((f.discount for f in lines), ZERO),
        net=sum((f.net for f in lines), ZERO),
        tax=sum((f.tax for f in lines), ZERO),
        total=sum((f.total for f in lines), ZERO),
    )


def clean_currency(value: str) -> str:
    """Upper-case three-letter code, or "" when malformed (the caller reports the field)."""
    code = (value or "").strip().upper()
    return code if len(code) == 3 and code.isalpha() else ""


def money_field(verbose_name, **kwargs) -> models.DecimalField:
    """The one shape of a stored amount: 16 digits, 2 decimals (up to 99 trillion, to the cent)."""
    return models.DecimalField(verbose_name, max_digits=16, decimal_places=2, **{"default": ZERO, **kwargs})


def currency_field(verbose_name=None, **kwargs) -> models.CharField:
    return models.CharField(verbose_name or _("currency"), max_length=3, **{"default": "CNY", **kwargs})
