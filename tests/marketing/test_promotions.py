"""Promotions (issue #9 item 5): spend-threshold, direct-discount and gift coupons; one unique code per
recipient, issued idempotently; a code redeemed once, on an open order of its customer in the promotion's
currency and period, above the threshold; each refusal names the field and changes nothing; the redemption is
audited, on the customer's timeline, and counted on the promotion and the campaign (pages and API)."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from kehu.core.models import AuditEntry
from kehu.interactions.models import Interaction
from kehu.marketing.models import CouponCode, Enrolment, Promotion
from kehu.marketing.services import promotions as services
from tests.analytics.conftest import buy

from .campaigning import campaign, customer, static_segment

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(org):
    """A campaign of the marketer with three recipients (two of rep1, one of rep3) and a 满减 promotion."""
    a, b, d = customer("王芳", org.rep1), customer("李雷", org.rep1), customer("赵敏", org.rep3)
    made = campaign(org.marketer, static_segment(org.marketer, [a, b, d]))
    now = timezone.now()
    Enrolment.objects.bulk_create([Enrolment(campaign=made, customer=c, due_at=now) for c in (a, b, d)])
    today = timezone.localdate()
    promo = services.promotion_create(
        data={
            "name": "满 1000 减 100",
            "campaign": made,
            "kind": "threshold",
            "threshold": Decimal("1000"),
            "discount": Decimal("100"),
            "valid_from": today,
            "valid_until": today + dt.timedelta(days=30),
        },
        by=org.marketer,
    )
    return {"a": a, "b": b, "d": d, "campaign": made, "promo": promo, "today": today}


def _error(exc_info) -> dict:
    return exc_info.value.message_dict


def test_a_promotion_is_refused_with_field_errors_when_it_makes_no_sense(org):
    today = timezone.localdate()
    cases = [
        ({"kind": "threshold", "threshold": "500", "discount": "500"}, "discount"),
        ({"kind": "threshold", "threshold": "0", "discount": "50"}, "threshold"),
        ({"kind": "discount", "discount": "0"}, "discount"),
        ({"kind": "discount", "discount": "-5"}, "discount"),
        ({"kind": "gift", "gifts": "保温杯"}, "gifts"),
        ({"kind": "gift", "gifts": "保温杯\n保温杯"}, "gifts"),
        ({"kind": "discount", "discount": "10", "valid_until": today - dt.timedelta(days=1)}, "valid_until"),
    ]
    for extra, field in cases:
        data = {"name": "x", "valid_from": today, "valid_until": today + dt.timedelta(days=5), **extra}
        with pytest.raises(ValidationError) as exc:
            services.promotion_create(data=data, by=org.marketer)
        assert field in _error(exc), (extra, _error(exc))
    assert not Promotion.objects.exists()


def test_codes_are_unique_one_per_recipient_and_issuing_twice_adds_only_new_recipients(org, setup):
    assert services.codes_issue(promotion=setup["promo"], by=org.marketer) == 3
    codes = list(CouponCode.objects.filter(promotion=setup["promo"]))
    assert len({c.code for c in codes}) == 3 and all(len(c.code) == services.CODE_LENGTH for c in codes)
    assert all(set(c.code) <= set(services.ALPHABET) for c in codes)
    assert services.codes_issue(promotion=setup["promo"], by=org.marketer) == 0
    late = customer("新客户", org.rep1)
    Enrolment.objects.create(campaign=setup["campaign"], customer=late, due_at=timezone.now())
    assert services.codes_issue(promotion=setup["promo"], by=org.marketer) == 1
    assert CouponCode.objects.filter(promotion=setup["promo"]).count() == 4
    # a sales rep may read promotions but not issue codes
    with pytest.raises(Exception) as exc:
        services.codes_issue(promotion=setup["promo"], by=org.rep1)
    assert exc.type.__name__ in {"PermissionDenied", "Http404"}


def test_a_code_is_redeemed_once_on_an_order_of_its_customer(org, setup):
    services.codes_issue(promotion=setup["promo"], by=org.marketer)
    code = CouponCode.objects.get(customer=setup["a"])
    order = buy(setup["a"], setup["today"], 1500)
    typed = f" {code.code[:4].lower()}-{code.code[4:]} "  # as a person types it
    used = services.coupon_redeem(code=typed, order=order, by=org.rep1)
    assert used.redeemed_at is not None and used.order == order and used.discount_granted == Decimal("100.00")
    assert used.redeemed_by == org.rep1
    entry = Interaction.objects.get(related_model="marketing.couponcode", related_id=str(code.pk))
    assert entry.customer == setup["a"] and order.number in entry.subject
    assert AuditEntry.objects.filter(model="marketing.couponcode", object_id=str(code.pk)).exists()
    with pytest.raises(ValidationError) as exc:
        services.coupon_redeem(code=code.code, order=buy(setup["a"], setup["today"], 2000), by=org.rep1)
    assert _error(exc) == {"code": ["This coupon was already used."]}
    stats = __import__("kehu.marketing.selectors.promotions", fromlist=["x"]).promotion_stats(setup["promo"])
    assert (stats["issued"], stats["redeemed"], stats["discount_granted"], stats["revenue"]) == (
        3,
        1,
        Decimal("100.00"),
        Decimal("1500.00"),
    )


def test_every_refusal_names_its_field_and_leaves_the_code_unused(org, setup, frozen_clock):
    services.codes_issue(promotion=setup["promo"], by=org.marketer)
    code = CouponCode.objects.get(customer=setup["a"]).code
    today = setup["today"]
    cases = [
        ({"code": "NOSUCHCODE", "order": buy(setup["a"], today, 1500)}, "code"),
        ({"code": "", "order": buy(setup["a"], today, 1500)}, "code"),
        ({"code": code, "order": buy(setup["b"], today, 1500)}, "order"),  # another customer's order
        ({"code": code, "order": buy(setup["a"], today, 999)}, "order"),  # below the threshold
        ({"code": code, "order": buy(setup["a"], today, 1500, currency="USD")}, "order"),
        ({"code": code, "order": buy(setup["a"], today, 1500, cancelled=True)}, "order"),
        ({"code": code, "order": buy(setup["a"], today, 1500), "gift": "保温杯"}, "gift"),
        ({"code": code, "order": 10**12}, "order"),  # no such order
        ({"code": code, "order": "abc"}, "order"),
    ]
    for kwargs, field in cases:
        with pytest.raises(ValidationError) as exc:
            services.coupon_redeem(by=org.rep1, **kwargs)
        assert list(_error(exc)) == [field], (kwargs, _error(exc))
    # an order the rep may not change (rep3's customer is in another department)
    with pytest.raises(ValidationError) as exc:
        services.coupon_redeem(code=code, order=buy(setup["d"], today, 1500), by=org.rep1)
    assert list(_error(exc)) == ["order"]
    # outside the promotion's period
    frozen_clock.move_to(timezone.now() + dt.timedelta(days=40))
    with pytest.raises(ValidationError) as exc:
        services.coupon_redeem(code=code, order=buy(setup["a"], timezone.localdate(), 1500), by=org.rep1)
    assert list(_error(exc)) == ["code"]
    assert CouponCode.objects.filter(redeemed_at__isnull=False).count() == 0
    assert not Interaction.objects.filter(related_model="marketing.couponcode").exists()


def test_a_gift_coupon_asks_for_one_of_its_gifts(org, setup):
    gift = services.promotion_create(
        data={
            "name": "任选一份礼品",
            "campaign": setup["campaign"],
            "kind": "gift",
            "gifts": "保温杯\n帆布袋\n定制笔记本",
            "valid_from": setup["today"],
            "valid_until": setup["today"] + dt.timedelta(days=10),
        },
        by=org.marketer,
    )
    services.codes_issue(promotion=gift, by=org.marketer)
    code = CouponCode.objects.get(promotion=gift, customer=setup["b"]).code
    for wrong in ("", "钻石"):
        with pytest.raises(ValidationError) as exc:
            services.coupon_redeem(
                code=code, order=buy(setup["b"], setup["today"], 10), by=org.rep1, gift=wrong
            )
        assert list(_error(exc)) == ["gift"]
    used = services.coupon_redeem(
        code=code, order=buy(setup["b"], setup["today"], 10), by=org.rep1, gift="帆布袋"
    )
    assert used.gift == "帆布袋" and used.discount_granted == 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent transactions need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_cashiers_redeeming_one_code_at_once_record_one_redemption(org, setup):
    services.codes_issue(promotion=setup["promo"], by=org.marketer)
    code = CouponCode.objects.get(customer=setup["a"]).code
    orders = [buy(setup["a"], setup["today"], 1500), buy(setup["a"], setup["today"], 1600)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def redeem(order):
        from django.db import connections

        try:
            barrier.wait(timeout=10)
            services.coupon_redeem(code=code, order=order.pk, by=org.rep1)
            outcomes.append("ok")
        except ValidationError as exc:
            outcomes.append(exc.message_dict["code"][0])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=redeem, args=(o,)) for o in orders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["This coupon was already used.", "ok"]
    row = CouponCode.objects.get(code=code)
    assert row.order_id in {o.pk for o in orders}
    assert Interaction.objects.filter(related_model="marketing.couponcode").count() == 1


def test_pages_issue_redeem_and_show_the_figures(org, setup, client_for):
    marketer = client_for(org.marketer)
    page = marketer.get(f"/marketing/promotions/{setup['promo'].pk}/")
    assert page.status_code == 200 and 'data-testid="issue-codes"' in page.content.decode()
    assert marketer.post(f"/marketing/promotions/{setup['promo'].pk}/issue/").status_code == 302
    code = CouponCode.objects.get(customer=setup["a"]).code
    order = buy(setup["a"], setup["today"], 1200)
    rep = client_for(org.rep1)
    listing = rep.get("/marketing/promotions/").content.decode()
    assert "满 1000 减 100" in listing and 'data-testid="use-coupon"' in listing
    refused = rep.post("/marketing/coupons/redeem/", {"code": code, "order": "NO-SUCH"})
    assert refused.status_code == 200 and "No order of yours has this number." in refused.content.decode()
    done = rep.post("/marketing/coupons/redeem/", {"code": code, "order": order.number})
    assert done.status_code == 302
    assert CouponCode.objects.get(code=code).order == order
    marketer = client_for(org.marketer)  # one test client: log in again
    html = marketer.get(f"/marketing/promotions/{setup['promo'].pk}/").content.decode()
    assert 'data-testid="redeemed">1 (33.3 %)' in html and "1200.00 CNY" in html
    campaign_page = marketer.get(f"/marketing/campaigns/{setup['campaign'].pk}/")
    assert campaign_page.status_code == 200, campaign_page.content.decode()[-1500:]
    campaign_page = campaign_page.content.decode()
    assert "满 1000 减 100" in campaign_page and 'data-testid="campaign-promotions"' in campaign_page
    # the rep reads the promotion (no issue button: no change right) and sees only their customers' codes
    rep = client_for(org.rep1)
    rep_page = rep.get(f"/marketing/promotions/{setup['promo'].pk}/").content.decode()
    assert 'data-testid="issue-codes"' not in rep_page
    assert setup["a"].name in rep_page and setup["d"].name not in rep_page


def test_api_creates_issues_redeems_and_hides_what_the_role_may_not_see(org, setup, api_for):
    marketer = api_for(org.marketer)
    made = marketer.post(
        "/api/promotions/",
        {
            "name": "直减 50",
            "campaign": setup["campaign"].pk,
            "kind": "discount",
            "discount": "50",
            "valid_from": str(setup["today"]),
            "valid_until": str(setup["today"] + dt.timedelta(days=3)),
        },
        format="json",
    )
    assert made.status_code == 201, made.content
    bad = marketer.post(
        "/api/promotions/",
        {"name": "x", "kind": "discount", "discount": "0", "valid_until": str(setup["today"])},
        format="json",
    )
    assert bad.status_code == 400 and "discount" in bad.json()
    pk = made.json()["id"]
    assert marketer.post(f"/api/promotions/{pk}/issue/").json() == {"issued": 3}
    code = CouponCode.objects.get(promotion_id=pk, customer=setup["a"]).code
    rep = api_for(org.rep1)
    assert rep.post(f"/api/promotions/{pk}/issue/").status_code == 403
    order = buy(setup["a"], setup["today"], 30)
    used = rep.post("/api/coupon-redemptions/", {"code": code, "order": order.pk}, format="json")
    assert used.status_code == 201, used.content
    assert used.json()["discount_granted"] == "30.00"  # never more than the order total
    again = rep.post("/api/coupon-redemptions/", {"code": code, "order": order.pk}, format="json")
    assert again.status_code == 400 and again.json() == {"code": ["This coupon was already used."]}
    stats = marketer.get(f"/api/promotions/{pk}/stats/").json()
    assert (stats["issued"], stats["redeemed"], stats["discount_granted"]) == (3, 1, "30.00")
    # the rep sees only the codes of their own customers (rep3's customer is left out)
    rows = rep.get(f"/api/promotions/{pk}/codes/").json()["results"]
    assert {r["customer"] for r in rows} == {setup["a"].pk, setup["b"].pk}
    # a user who may not place orders (the marketer reads orders only) cannot redeem at all
    assert (
        api_for(org.marketer)
        .post("/api/coupon-redemptions/", {"code": code, "order": order.pk}, format="json")
        .status_code
        == 403
    )


def test_hostile_input_is_refused_cleanly(org, setup, api_for):
    services.codes_issue(promotion=setup["promo"], by=org.marketer)
    rep = api_for(org.rep1)
    for body in (
        {"code": "'; DROP TABLE marketing_couponcode; --", "order": 1},
        {"code": "\u0000\u202e", "order": "1"},
        {"code": "A" * 5000, "order": []},
        ["not", "an", "object"],
    ):
        response = rep.post("/api/coupon-redemptions/", body, format="json")
        assert response.status_code == 400, (body, response.content)
    assert CouponCode.objects.filter(redeemed_at__isnull=True).count() == 3
