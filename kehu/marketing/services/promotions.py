"""Promotions (促销): create and change them through the record service, issue one unique coupon code per
recipient, and redeem a code on an order of its customer — once, also when two people try at the same moment.

Redemption records the discount granted (or the gift chosen) on the code and links it to the order; it does not
rewrite the order's lines or totals (the order keeps what was agreed with the customer; the campaign page and
API report the discount granted and the revenue of the orders that used a code)."""

from __future__ import annotations

import secrets
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from kehu.core import audit, records
from kehu.core.access import Access
from kehu.core.models import Action, AuditAction
from kehu.customers.models import Customer
from kehu.interactions.services import timeline_event_record

from ..models import CouponCode, Enrolment, Promotion, PromotionKind

#: no 0/O, 1/I/L: codes are read aloud and typed from paper
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10
#: order statuses a coupon cannot be used on
CLOSED_ORDER_STATUSES = {"cancelled", "returned"}


def promotion_create(*, data: dict, by) -> Promotion:
    return records.record_create(model=Promotion, data=data, by=by)


def promotion_update(*, promotion: Promotion, data: dict, by, expected_version: int | None) -> Promotion:
    return records.record_update(instance=promotion, data=data, by=by, expected_version=expected_version)


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(raw: str) -> str:
    """What a person types — spaces, dashes, lower case — to the stored form."""
    return "".join(ch for ch in str(raw or "").upper() if ch.isalnum())[:20]


def recipients(promotion: Promotion) -> list[int]:
    """The customers a promotion's codes go to: everyone enrolled in its campaign."""
    if promotion.campaign_id is None:
        return []
    return list(
        Enrolment.objects.filter(campaign_id=promotion.campaign_id)
        .order_by("customer_id")
        .values_list("customer_id", flat=True)
        .distinct()
    )


def codes_issue(*, promotion: Promotion, by, customer_ids: list[int] | None = None) -> int:
    """Give every recipient who has none yet a unique code (idempotent: a second call issues only to new
    recipients). Returns how many codes were issued. Needs the right to change the promotion."""
    with transaction.atomic():
        locked, _access = records.lock_for_write(promotion, by)
        if customer_ids is None:
            if locked.campaign_id is None:
                raise ValidationError({"campaign": _("Link the promotion to a campaign to issue its codes.")})
            customer_ids = recipients(locked)
        if locked.valid_until < timezone.localdate():
            raise ValidationError({"valid_until": _("The promotion has ended; no codes can be issued.")})
        have = set(CouponCode.objects.filter(promotion=locked).values_list("customer_id", flat=True))
        wanted = [pk for pk in dict.fromkeys(customer_ids) if pk not in have]
        wanted = list(Customer.objects.filter(pk__in=wanted).values_list("pk", flat=True))
        issued = 0
        now = timezone.now()
        for _attempt in range(5):
            if not wanted:
                break
            batch = [
                CouponCode(promotion=locked, customer_id=pk, code=new_code(), issued_at=now) for pk in wanted
            ]
            # a code that happens to exist already (1 in 10^14) is skipped here and drawn again below
            CouponCode.objects.bulk_create(batch, ignore_conflicts=True, batch_size=2000)
            done = set(
                CouponCode.objects.filter(promotion=locked, customer_id__in=wanted).values_list(
                    "customer_id", flat=True
                )
            )
            issued += len(done)
            wanted = [pk for pk in wanted if pk not in done]
        if wanted:  # pragma: no cover - five collisions in a row for one customer
            raise ValidationError(_("Some codes could not be drawn; try again."))
        if issued:
            audit.log(
                actor=by,
                action=AuditAction.UPDATE,
                instance=locked,
                changes={"codes issued": [None, issued]},
                note=_("coupon codes issued"),
            )
    return issued


def _order_for(order, by):
    from kehu.sales.models import Order

    if not isinstance(order, Order):
        try:
            order = Order.objects.get(pk=int(order))
        except (TypeError, ValueError, Order.DoesNotExist):
            raise ValidationError({"order": _("Choose an order you may change.")}) from None
    return order


def coupon_redeem(*, code: str, order, by, gift: str = "") -> CouponCode:
    """Redeem a code on an order of the code's customer. Checked: the code exists, is not used, the promotion
    runs today, the order is the customer's, open, in the promotion's currency and reaches the threshold, the
    gift is one of the options. The order must be in the caller's write scope (`may_redeem`). Each refusal names
    the field."""
    from kehu.sales.models import Order

    typed = normalise_code(code)
    if not typed:
        raise ValidationError({"code": _("Type the coupon code.")})
    order = _order_for(order, by)
    if (
        not may_redeem(by)
        or not Access.of(by).filter(Order.objects.filter(pk=order.pk), mode="write").exists()
    ):
        raise ValidationError({"order": _("Choose an order you may change.")})
    with transaction.atomic():
        coupon = CouponCode.objects.select_related("promotion").filter(code=typed).first()
        if coupon is None:
            raise ValidationError({"code": _("No coupon has this code.")})
        promotion = coupon.promotion
        if coupon.redeemed_at is not None:
            raise ValidationError({"code": _("This coupon was already used.")})
        today = timezone.localdate()
        if not promotion.valid_from <= today <= promotion.valid_until:
            raise ValidationError(
                {
                    "code": _("This coupon is valid from %(start)s to %(end)s.")
                    % {
                        "start": formats.date_format(promotion.valid_from, "SHORT_DATE_FORMAT"),
                        "end": formats.date_format(promotion.valid_until, "SHORT_DATE_FORMAT"),
                    }
                }
            )
        if order.customer_id != coupon.customer_id:
            raise ValidationError({"order": _("This coupon belongs to another customer.")})
        if order.kind != "sale" or order.status in CLOSED_ORDER_STATUSES:
            raise ValidationError({"order": _("A coupon can only be used on an open sales order.")})
        if order.currency != promotion.currency:
            raise ValidationError(
                {
                    "order": _("The order is in %(order)s; this coupon is in %(coupon)s.")
                    % {"order": order.currency, "coupon": promotion.currency}
                }
            )
        if promotion.threshold and order.total < promotion.threshold:
            raise ValidationError(
                {
                    "order": _("The order total %(total)s is below this coupon's minimum of %(minimum)s.")
                    % {"total": order.total, "minimum": promotion.threshold}
                }
            )
        gift = (gift or "").strip()
        if promotion.kind == PromotionKind.GIFT:
            if gift not in promotion.gift_options():
                raise ValidationError({"gift": _("Choose one of the promotion's gifts.")})
            granted = Decimal("0.00")
        else:
            if gift:
                raise ValidationError({"gift": _("This coupon gives a discount, not a gift.")})
            granted = min(promotion.discount, order.total)
        now = timezone.now()
        claimed = CouponCode.objects.filter(pk=coupon.pk, redeemed_at__isnull=True).update(
            redeemed_at=now, order=order, gift=gift, discount_granted=granted, redeemed_by=by
        )
        if not claimed:  # someone else redeemed it between our read and this update
            raise ValidationError({"code": _("This coupon was already used.")})
        coupon.refresh_from_db()
        audit.log(
            actor=by,
            action=AuditAction.UPDATE,
            instance=coupon,
            changes={
                "redeemed_at": [None, now],
                "order": [None, order.number],
                "gift": [None, gift] if gift else [None, None],
                "discount_granted": [None, granted],
            },
        )
        timeline_event_record(
            customer=coupon.customer,
            subject=(
                _("Coupon of “%(promotion)s” used on order %(order)s (gift: %(gift)s)")
                if gift
                else _("Coupon of “%(promotion)s” used on order %(order)s (−%(amount)s %(currency)s)")
            )
            % {
                "promotion": promotion.name,
                "order": order.number,
                "gift": gift,
                "amount": granted,
                "currency": promotion.currency,
            },
            related_model="marketing.couponcode",
            related_id=coupon.pk,
            url=order.get_absolute_url() if hasattr(order, "get_absolute_url") else "",
            user=by,
        )
    return coupon


def may_redeem(user) -> bool:
    """Using a coupon is part of placing an order: whoever may place or change orders (in their write scope)."""
    from kehu.sales.models import Order

    access = Access.of(user)
    return access.can(Action.ADD, Order) or access.can(Action.CHANGE, Order)


def ensure_can_issue(user, promotion: Promotion) -> None:
    access = Access.of(user)
    if not (access.can(Action.CHANGE, Promotion) and access.can_write_record(promotion)):
        raise PermissionDenied(_("You may see this record but not change it."))
