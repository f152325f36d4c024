"""Quote to order in a real browser: a rep makes a quote from a deal, gives a discount above the limit and
submits it; the manager approves; the PDF opens; the rep sends it, the customer accepts, one click makes the
order."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from kehu.customers.models import Customer
from kehu.products.models import PriceList, PriceListItem, Product
from kehu.sales.models import DiscountLimit, Order, Quote
from kehu.sales.services import opportunities
from tests.sales.conftest import demo_role

pytestmark = pytest.mark.e2e


@pytest.fixture
def deal(seeded):
    rep = seeded.users["rep1"]
    product = Product.objects.create(sku="AC-200", name="空压机 AC-200", list_price=Decimal("5000"))
    plist = PriceList.objects.create(
        name="标准价", currency="CNY", valid_from=timezone.localdate() - dt.timedelta(days=10)
    )
    PriceListItem.objects.create(price_list=plist, product=product, unit_price=Decimal("4800"))
    DiscountLimit.objects.create(
        role=demo_role("sales_rep"), max_line_discount=Decimal("10"), max_total_discount=Decimal("5")
    )
    customer = Customer.objects.filter(owner=rep, kind="organization").first()
    opp = opportunities.opportunity_create(data={"name": "空压机替换", "customer": customer}, by=rep)
    opportunities.opportunity_line_add(
        opportunity=opp, data={"product": product, "quantity": Decimal("2")}, by=rep
    )
    return opp


def test_quote_approval_pdf_order(seeded, deal, context_factory, login, live_server):
    rep_page = context_factory().new_page()
    login(rep_page, "rep1")
    rep_page.goto(f"{live_server.url}{deal.get_absolute_url()}")
    rep_page.click("[data-testid=make-quote]")
    rep_page.wait_for_selector("[data-testid=quote-lines]")
    quote = Quote.objects.get(opportunity=deal)
    assert "10848.00" in rep_page.inner_text("[data-testid=quote-total]")  # 2 × 4800 + 13% VAT
    rep_page.fill("[data-testid=line-discount]", "15")
    rep_page.click("[data-testid=line-save]")
    rep_page.wait_for_selector("[data-testid=approval-required]")
    rep_page.click("[data-testid=submit]")
    rep_page.wait_for_selector("[data-testid=pending-approval]")

    manager_page = context_factory().new_page()
    login(manager_page, "manager")
    manager_page.goto(f"{live_server.url}{quote.get_absolute_url()}")
    manager_page.select_option("select[name=decision]", "approve")
    manager_page.fill("textarea[name=comment]", "同意，战略客户")
    manager_page.click("[data-testid=decide]")
    manager_page.wait_for_selector("[data-testid=approvals]")
    quote.refresh_from_db()
    assert quote.status == "approved"

    pdf = rep_page.request.get(f"{live_server.url}/sales/quotes/{quote.pk}/pdf/?lang=zh-hans")
    assert (
        pdf.status == 200 and pdf.headers["content-type"] == "application/pdf" and pdf.body()[:4] == b"%PDF"
    )

    rep_page.reload()
    rep_page.click("[data-testid=send]")
    rep_page.wait_for_selector("[data-testid=accept]")
    rep_page.click("[data-testid=accept]")
    rep_page.wait_for_selector("[data-testid=make-order]")
    rep_page.click("[data-testid=make-order]")
    rep_page.wait_for_selector("[data-testid=order-lines]")
    order = Order.objects.get(quote=quote)
    assert order.total == Quote.objects.get(pk=quote.pk).total
    assert rep_page.url.endswith(order.get_absolute_url())
