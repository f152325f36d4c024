"""Row invariants of the sales models and the money arithmetic (Decimal, half-up to the cent, VAT presets)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from kehu.customers.models import Customer
from kehu.products.models import PriceList, PriceListItem, Product
from kehu.products.selectors import list_price, price_list_for
from kehu.sales import money
from kehu.sales.models import (
    CloseReason,
    Contract,
    Instalment,
    InvoiceRequest,
    Lead,
    Opportunity,
    Order,
    OrderLine,
    Pipeline,
    Quote,
    QuoteLine,
    RecycleRule,
    Stage,
)

D = Decimal


# ------------------------------------------------------------------------------------------------ money
def test_cents_round_half_up_not_bankers():
    assert money.cents(D("0.005")) == D("0.01")
    assert money.cents(D("0.015")) == D("0.02")  # banker's rounding would give 0.02 here and 0.00 above
    assert money.cents(D("2.675")) == D("2.68")  # float would make this 2.67
    assert money.cents(D("-0.005")) == D("-0.01")  # half away from zero for refunds too


def test_line_figures_with_vat_presets():
    # 3 × 33.33 = 99.99; 10 % off = 89.991 → 89.99; VAT 13 % of 89.99 = 11.6987 → 11.70
    f = money.line_figures(quantity=D("3"), unit_price=D("33.33"), discount_percent=D("10"), tax_rate=D("13"))
    assert (f.gross, f.net, f.discount, f.tax, f.total) == (
        D("99.99"),
        D("89.99"),
        D("10.00"),
        D("11.70"),
        D("101.69"),
    )
    nine = money.line_figures(
        quantity=D("1"), unit_price=D("100.05"), discount_percent=D("0"), tax_rate=D("9")
    )
    assert nine.tax == D("9.00")  # 9.0045 → 9.00
    six = money.line_figures(quantity=D("1"), unit_price=D("0.25"), discount_percent=D("0"), tax_rate=D("6"))
    assert six.tax == D("0.02")  # 0.015 → 0.02 (half-up)
    assert set(money.VatRate.values) == {"13.00", "9.00", "6.00", "0.00"}


@settings(deadline=None)
@given(
    lines=st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=10_000_000),  # quantity in thousandths
            st.integers(min_value=0, max_value=99_999_999),  # unit price in cents
            st.integers(min_value=0, max_value=10_000),  # discount in hundredths of a percent
            st.sampled_from([D("13"), D("9"), D("6"), D("0")]),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_totals_add_up_to_the_cent(lines):
    figures = [
        money.line_figures(
            quantity=D(q) / 1000, unit_price=D(p) / 100, discount_percent=D(d) / 100, tax_rate=t
        )
        for q, p, d, t in lines
    ]
    total = money.totals(figures)
    for value in (total.gross, total.net, total.tax, total.total, total.discount):
        assert value == value.quantize(money.CENT)
    assert total.total == total.net + total.tax
    assert total.gross - total.discount == total.net
    assert D("0") <= total.discount_percent <= D("100")


# ------------------------------------------------------------------------------------------------ quotes
@pytest.mark.django_db
def test_quote_line_refuses_bad_quantities_discounts_and_vat(account):
    quote = Quote.objects.create(number="Q-1", customer=account, valid_until=timezone.localdate())
    for bad, field in (
        ({"quantity": D("0")}, "quantity"),
        ({"quantity": D("-1")}, "quantity"),
        ({"discount_percent": D("120")}, "discount_percent"),
        ({"tax_rate": D("17")}, "tax_rate"),
        ({"unit_price": D("-5")}, "unit_price"),
    ):
        line = QuoteLine(quote=quote, description="x", **{"quantity": D("1"), "unit_price": D("10"), **bad})
        with pytest.raises(ValidationError) as exc:
            line.full_clean()
        assert field in exc.value.message_dict
    line = QuoteLine(
        quote=quote, description="服务", quantity=D("2"), unit_price=D("49.995"), tax_rate=D("6")
    )
    line.full_clean(exclude=["unit_price"])  # 49.995 has three decimals: the clean figures use it as given
    assert (line.net_amount, line.tax_amount, line.total) == (D("99.99"), D("6.00"), D("105.99"))


@pytest.mark.django_db
def test_quote_currency_must_match_the_price_list(account):
    usd = PriceList.objects.create(name="Export", currency="USD", valid_from=timezone.localdate())
    quote = Quote(
        number="q-2", customer=account, currency="CNY", price_list=usd, valid_until=timezone.localdate()
    )
    with pytest.raises(ValidationError) as exc:
        quote.full_clean()
    assert "currency" in exc.value.message_dict
    quote.currency = "usd"
    quote.full_clean()
    assert quote.currency == "USD" and quote.number == "Q-2"
    quote.valid_until = quote.issue_date - dt.timedelta(days=1)
    with pytest.raises(ValidationError) as exc:
        quote.full_clean()
    assert "valid_until" in exc.value.message_dict


@pytest.mark.django_db
def test_price_list_for_a_customer_class_and_day():
    today = timezone.localdate()
    product = Product.objects.create(sku="AC-1", name="空压机", list_price=D("100"))
    general = PriceList.objects.create(
        name="标准价", currency="CNY", valid_from=today - dt.timedelta(days=30)
    )
    dealers = PriceList.objects.create(
        name="经销商价",
        currency="CNY",
        customer_type="distributor",
        valid_from=today - dt.timedelta(days=10),
        valid_to=today + dt.timedelta(days=10),
    )
    PriceListItem.objects.create(price_list=dealers, product=product, unit_price=D("80"))
    PriceListItem.objects.create(
        price_list=dealers, product=product, min_quantity=D("10"), unit_price=D("75")
    )
    assert price_list_for(currency="cny", customer_type="distributor", day=today) == dealers
    assert price_list_for(currency="CNY", customer_type="retailer", day=today) == general
    assert (
        price_list_for(currency="CNY", customer_type="distributor", day=today + dt.timedelta(days=11))
        == general
    )
    assert price_list_for(currency="USD", customer_type="", day=today) is None
    assert list_price(price_list=dealers, product=product, quantity=D("3")) == D("80")
    assert list_price(price_list=dealers, product=product, quantity=D("12")) == D("75")
    bad = PriceList(name="x", currency="RMB1", valid_from=today, valid_to=today - dt.timedelta(days=1))
    with pytest.raises(ValidationError) as exc:
        bad.full_clean()
    assert {"currency", "valid_to"} <= set(exc.value.message_dict)


# ------------------------------------------------------------------------------------------------ pipelines
@pytest.mark.django_db
def test_default_pipeline_has_the_seed_stages(pipeline):
    names = [(s.kind, s.probability) for s in pipeline.stages.order_by("position")]
    assert names == [("open", 10), ("open", 25), ("open", 50), ("open", 75), ("won", 100), ("lost", 0)]
    assert Pipeline.objects.filter(is_default=True).count() == 1
    assert (
        CloseReason.objects.filter(kind="won").exists() and CloseReason.objects.filter(kind="lost").exists()
    )
    with pytest.raises(ValidationError):
        Stage(pipeline=pipeline, name="确定", kind="open", probability=100).full_clean()
    won = Stage(pipeline=pipeline, name="Won 2", kind="won", probability=3)
    won.full_clean()
    assert won.probability == 100


@pytest.mark.django_db
def test_a_closed_deal_needs_a_reason_of_its_outcome(pipeline, account, org):
    won_stage = pipeline.stages.get(kind="won")
    lost_reason = CloseReason.objects.filter(kind="lost").first()
    opp = Opportunity(name="D", customer=account, pipeline=pipeline, stage=won_stage, owner=org.rep1)
    with pytest.raises(ValidationError) as exc:
        opp.full_clean()
    assert "close_reason" in exc.value.message_dict
    opp.close_reason = lost_reason
    with pytest.raises(ValidationError) as exc:
        opp.full_clean()
    assert "close_reason" in exc.value.message_dict
    other = Pipeline.objects.create(name="Renewals")
    foreign = Stage.objects.create(pipeline=other, name="x", probability=10)
    opp = Opportunity(name="D", customer=account, pipeline=pipeline, stage=foreign, amount=D("-1"))
    with pytest.raises(ValidationError) as exc:
        opp.full_clean()
    assert {"stage", "amount"} <= set(exc.value.message_dict)


# ------------------------------------------------------------------------------------------------ leads
@pytest.mark.django_db
def test_lead_invariants(org):
    lead = Lead(kind="organization", company="", name="", phone="138 0013 8000", status="disqualified")
    with pytest.raises(ValidationError) as exc:
        lead.full_clean()
    assert {"company", "name", "disqualify_reason"} <= set(exc.value.message_dict)
    lead = Lead(
        kind="person",
        name="王小明",
        phone="138 0013 8000",
        email=" Wang@Example.COM ",
        status="working",
        disqualify_reason="spam",
    )
    lead.full_clean()
    assert (
        lead.phone == "+8613800138000" and lead.email == "wang@example.com" and lead.disqualify_reason == ""
    )
    with pytest.raises(ValidationError) as exc:
        Lead(kind="person", name="x", status="converted").full_clean()
    assert "status" in exc.value.message_dict


# ------------------------------------------------------------------------------------------------ orders
def _order(customer, number, kind="sale", original=None, status="confirmed", day=None):
    return Order.objects.create(
        number=number,
        customer=customer,
        kind=kind,
        original=original,
        status=status,
        order_date=day or timezone.localdate(),
    )


def _line(order, qty, price, counted=True):
    line = OrderLine(
        order=order,
        line_no=order.lines.count() + 1,
        description="x",
        quantity=D(qty),
        unit_price=D(price),
        customer=order.customer,
        order_date=order.order_date,
        currency=order.currency,
        counted=counted,
    )
    line.full_clean()
    line.save()
    return line


@pytest.mark.django_db
def test_returns_and_cancellations_net_out_of_the_purchase_history(account):
    sale = _order(account, "SO-1")
    _line(sale, "2", "100")
    cancelled = _order(account, "SO-2", status="cancelled")
    _line(cancelled, "5", "100", counted=False)
    ret = _order(account, "RT-1", kind="return", original=sale)
    _line(ret, "-1", "100")
    net = OrderLine.objects.filter(customer=account, counted=True).aggregate(s=Sum("amount"))["s"]
    assert net == D("100.00")
    with pytest.raises(ValidationError) as exc:
        OrderLine(order=ret, line_no=9, description="x", quantity=D("1"), unit_price=D("1")).full_clean(
            exclude=["customer", "order_date", "currency"]
        )
    assert "quantity" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        OrderLine(order=sale, line_no=9, description="x", quantity=D("0"), unit_price=D("1")).full_clean(
            exclude=["customer", "order_date", "currency"]
        )
    assert "quantity" in exc.value.message_dict
    other = Customer.objects.create(name="别家公司")
    with pytest.raises(ValidationError) as exc:
        Order(number="RT-2", customer=other, kind="return", original=sale).full_clean()
    assert "original" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        Order(number="RT-3", customer=account, kind="return").full_clean()
    assert "original" in exc.value.message_dict


# ------------------------------------------------------------------------------------------------ contracts
@pytest.mark.django_db
def test_contract_instalment_and_invoice_invariants(account):
    today = timezone.localdate()
    contract = Contract(
        number="ht-1",
        title="年度采购合同",
        customer=account,
        amount=D("0"),
        start_date=today,
        end_date=today - dt.timedelta(days=1),
        signed_date=today + dt.timedelta(days=1),
    )
    with pytest.raises(ValidationError) as exc:
        contract.full_clean()
    assert {"amount", "end_date", "signed_date"} <= set(exc.value.message_dict)
    contract = Contract.objects.create(
        number="HT-1", title="年度采购合同", customer=account, amount=D("1000"), start_date=today
    )
    inst = Instalment(contract=contract, due_date=today, amount=D("400"), paid_amount=D("100"))
    inst.full_clean()
    assert inst.status == "partly"
    inst.paid_amount = D("400")
    inst.full_clean()
    assert inst.status == "paid"
    inst.amount = D("300")
    with pytest.raises(ValidationError):
        inst.full_clean()
    special = InvoiceRequest(
        contract=contract, invoice_type="special", title="上海启明星科技有限公司", amount=D("500")
    )
    with pytest.raises(ValidationError) as exc:
        special.full_clean()
    assert {"tax_number", "address_phone", "bank_account"} <= set(exc.value.message_dict)
    special.tax_number, special.address_phone, special.bank_account = (
        "91310000MA1FL0XX1X",
        "上海 021-1234",
        "工行 6222",
    )
    special.full_clean()
    ordinary = InvoiceRequest(contract=contract, invoice_type="ordinary", title="个人", amount=D("10"))
    ordinary.full_clean()


@pytest.mark.django_db
def test_recycle_rule_needs_a_trigger_and_an_early_warning():
    from kehu.sales.models import CustomerPool

    pool = CustomerPool.objects.create(name="华北公海")
    with pytest.raises(ValidationError):
        RecycleRule(name="r", pool=pool).full_clean()
    with pytest.raises(ValidationError) as exc:
        RecycleRule(name="r", pool=pool, no_followup_days=3, warn_days=3).full_clean()
    assert "warn_days" in exc.value.message_dict
    RecycleRule(name="r", pool=pool, no_followup_days=30, no_deal_days=90, warn_days=3).full_clean()
