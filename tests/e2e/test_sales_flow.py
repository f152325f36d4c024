"""Lead to cash in a real browser, on a desktop and on a phone viewport (issue #16, deliverable 7).

A rep captures a lead and converts it (customer + opportunity), moves the deal on the kanban board (a mouse
drag on the desktop; the stage switcher and the "Move to…" menu on the phone), makes a quote with a discount
above the role's limit and submits it; the manager approves it in a second browser, from the notification; the
rep downloads the PDF (a PDF naming the customer), marks the quote sent and accepted, makes the contract from
it with two instalments (submitted, approved by the manager, signed) and the order from the quote; the manager
moves the order to delivered with serial numbers (the installed-base units appear on the customer's 360°
page); the rep records a payment and the first instalment shows paid. A month later without follow-up, the
admin's recycle rule (run by the scheduler's job) warns the rep, naming the customer, and returns it to the
region's pool; another rep sees who held it and why it returned, and claims it.

On the phone, every control the flow uses must lie within the screen and no page may be wider than it.
Every step goes through the pages a user sees; the database is only read to check. The clock is the suite's
frozen clock (tests/clock.py) and is moved with `frozen_clock.shift` — the live server runs in this process, so
it sees the same time. Any CSP violation or page error fails the test."""

from __future__ import annotations

import datetime as dt
import re
import zlib
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from kehu.customers.models import Customer
from kehu.products.models import InstalledProduct, PriceList, PriceListItem, Product
from kehu.sales.models import (
    Contract,
    CustomerPool,
    DiscountLimit,
    Instalment,
    Lead,
    Opportunity,
    Order,
    PoolEvent,
    Quote,
    RecycleRule,
)
from kehu.sales.services import opportunities, pools
from tests.e2e.test_kanban_board import CspWatch, _drag

pytestmark = pytest.mark.e2e


DESKTOP = {"viewport": {"width": 1440, "height": 900}}
PHONE = {"viewport": {"width": 375, "height": 812}, "is_mobile": True, "has_touch": True}
COMPANY = "鲲鹏精密机械有限公司 Kunpeng Precision"


# ---------------------------------------------------------------------------------------------- PDF text
def _streams(pdf: bytes) -> list[bytes]:
    out = []
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        raw = match.group(1)
        try:
            out.append(zlib.decompress(raw))
        except zlib.error:
            out.append(raw)
    return out


def _cmaps(streams: list[bytes]) -> list[dict[int, str]]:
    """The ToUnicode maps of the embedded fonts (glyph id → text)."""
    maps = []
    for data in streams:
        if b"begincmap" not in data:
            continue
        table: dict[int, str] = {}
        for block in re.findall(rb"beginbfchar(.*?)endbfchar", data, re.S):
            for src, dst in re.findall(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block):
                table[int(src, 16)] = bytes.fromhex(dst.decode()).decode("utf-16-be", "replace")
        for block in re.findall(rb"beginbfrange(.*?)endbfrange", data, re.S):
            for lo, hi, dst in re.findall(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block):
                start = int(dst, 16)
                for offset, code in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
                    table[code] = chr(start + offset)
        maps.append(table)
    return maps


def pdf_text(pdf: bytes) -> str:
    """The text of a WeasyPrint PDF without a PDF library: the hex strings shown by the content streams
    (two-byte glyph ids, Identity-H), read through each embedded font's ToUnicode map. Good enough to find a
    name; one line of text per font map."""
    streams = _streams(pdf)
    shown = [
        chunk
        for data in streams
        if b"BT" in data and b"begincmap" not in data
        for chunk in re.findall(rb"<([0-9a-fA-F]+)>", data)
    ]
    texts = []
    for table in _cmaps(streams):
        words = []
        for chunk in shown:
            raw = bytes.fromhex(chunk.decode())
            words.append(
                "".join(table.get(int.from_bytes(raw[i : i + 2], "big"), "") for i in range(0, len(raw), 2))
            )
        texts.append("".join(words))
    return "\n".join(texts)


# -------------------------------------------------------------------------------------------- helpers
def fits(page, locator, width: int) -> None:
    """The control is inside the viewport's width (no sideways scrolling to reach it on a phone)."""
    expect(locator).to_be_visible()
    box = locator.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 1, (str(locator), box)
    # and the page itself is no wider than the screen (a phone widens its layout viewport to the content)
    page_box = page.locator("html").bounding_box()
    assert page_box is not None and page_box["width"] <= width + 1, (page.url, page_box)


def flash(page, text: str) -> None:
    expect(
        page.locator(".msg-success, .msg.success, [role=status]").filter(has_text=text).first
    ).to_be_visible()


@pytest.fixture
def sales_setup(seeded):
    """What an administrator has configured: the default pipeline, a product on the CNY price list, the reps'
    discount limit (approved by the manager), the North region's pool and its recycle rule."""
    from tests.sales.conftest import demo_role

    rep1 = seeded.users["rep1"]
    opportunities.pipeline_default()
    product = Product.objects.create(
        sku="KP-300", name="螺杆空压机 KP-300", list_price=Decimal("52000"), warranty_months=12
    )
    plist = PriceList.objects.create(
        name="标准价 Standard", currency="CNY", valid_from=timezone.localdate() - dt.timedelta(days=30)
    )
    PriceListItem.objects.create(price_list=plist, product=product, unit_price=Decimal("50000"))
    DiscountLimit.objects.create(
        role=demo_role("sales_rep"), max_line_discount=Decimal("10"), max_total_discount=Decimal("10")
    )
    pool = CustomerPool.objects.create(name="华北公海 North pool", department=rep1.department)
    RecycleRule.objects.create(
        name="30 天未跟进 No follow-up",
        pool=pool,
        department=rep1.department,
        no_followup_days=30,
        warn_days=3,
    )
    # the demo customers are kept out of the rule ("created" after the month this test skips): the pool then
    # holds only this flow's customer
    Customer.objects.update(created_at=timezone.now() + dt.timedelta(days=60))
    return seeded, product, pool


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_lead_to_cash_and_back_to_the_pool(
    sales_setup, device, context_factory, login, live_server, frozen_clock
):
    seeded, product, pool = sales_setup
    phone = device == "phone"
    width = (PHONE if phone else DESKTOP)["viewport"]["width"]
    url = live_server.url
    rep = context_factory(**(PHONE if phone else DESKTOP)).new_page()
    csp = CspWatch(rep)
    login(rep, "rep1")

    # ---- the rep captures a lead
    rep.goto(f"{url}/sales/leads/")
    fits(rep, rep.get_by_test_id("create"), width)
    rep.get_by_test_id("create").click()
    rep.select_option("select[name=kind]", "organization")
    rep.fill("input[name=company]", COMPANY)
    rep.fill("input[name=name]", "郑海 Zheng Hai")
    rep.fill("input[name=phone]", "+86 138 0013 7788")
    rep.fill("input[name=email]", "zheng.hai@kunpeng.example")
    rep.get_by_test_id("save").click()
    expect(rep.get_by_test_id("convert")).to_be_visible()
    lead = Lead.objects.get(company=COMPANY)
    assert lead.owner_id == seeded.users["rep1"].pk

    # ---- converts it: a new customer and an opportunity
    fits(rep, rep.get_by_test_id("convert"), width)
    rep.get_by_test_id("convert").click()
    expect(rep.get_by_test_id("convert-form")).to_be_visible()
    rep.fill("input[name=opportunity_name]", "KP-300 替换项目")
    rep.get_by_test_id("save").click()
    expect(rep.get_by_test_id("make-quote")).to_be_visible()
    opp = Opportunity.objects.get(name="KP-300 替换项目")
    customer = opp.customer
    assert customer.name == COMPANY and customer.owner_id == seeded.users["rep1"].pk
    assert Lead.objects.get(pk=lead.pk).status == "converted"
    stages = {s.probability: s for s in opp.pipeline.stages.filter(kind="open")}
    assert opp.stage_id == stages[10].pk

    # ---- the kanban board: drag the deal to qualification (desktop) / switch and move (phone)
    rep.goto(f"{url}/sales/board/")
    card = rep.get_by_test_id(f"card-{opp.pk}")
    expect(card).to_be_visible()
    qualification = stages[25].pk
    if phone:
        expect(rep.get_by_test_id(f"column-{qualification}")).to_be_hidden()
        fits(rep, rep.get_by_test_id(f"move-menu-{opp.pk}"), width)
        rep.get_by_test_id(f"move-menu-{opp.pk}").click()
        expect(rep.locator("[data-testid=move-dialog][open]")).to_be_visible()
        rep.get_by_test_id(f"move-to-{qualification}").click()
        expect(rep.get_by_test_id("board-message")).to_contain_text("Moved to Qualification")
        rep.select_option("[data-testid=stage-switch]", str(qualification))
        expect(rep.get_by_test_id(f"column-{qualification}").get_by_test_id(f"card-{opp.pk}")).to_be_visible()
        expect(rep.get_by_test_id(f"column-{stages[10].pk}")).to_be_hidden()
    else:
        _drag(rep, f"[data-testid=card-{opp.pk}]", f"[data-testid=column-{qualification}] [data-cards]")
        expect(rep.get_by_test_id("board-message")).to_contain_text("Moved to Qualification")
        expect(rep.get_by_test_id(f"column-{qualification}").get_by_test_id(f"card-{opp.pk}")).to_be_visible()
    expect(rep.get_by_test_id(f"count-{qualification}")).to_have_text("1")
    opp.refresh_from_db()
    assert opp.stage_id == qualification

    # ---- a quote from the deal, with a discount above the rep's limit, submitted for approval
    rep.goto(f"{url}{opp.get_absolute_url()}")
    fits(rep, rep.get_by_test_id("make-quote"), width)
    rep.get_by_test_id("make-quote").click()
    expect(rep.get_by_test_id("quote-lines")).to_be_visible()
    quote = Quote.objects.get(opportunity=opp)
    add = rep.get_by_test_id("add-line")
    add.locator("select[name=product]").select_option(str(product.pk))
    add.locator("input[name=quantity]").fill("2")
    add.get_by_role("button").click()
    expect(rep.get_by_test_id("quote-total")).to_contain_text("113000.00")  # 2 × 50,000 + 13% VAT
    rep.get_by_test_id("line-discount").fill("15")
    rep.get_by_test_id("line-save").click()
    expect(rep.get_by_test_id("approval-required")).to_be_visible()
    expect(rep.get_by_test_id("quote-total")).to_contain_text("96050.00")  # 85,000 + 11,050 VAT
    fits(rep, rep.get_by_test_id("submit"), width)
    rep.get_by_test_id("submit").click()
    expect(rep.get_by_test_id("pending-approval")).to_be_visible()
    assert Quote.objects.get(pk=quote.pk).status == "pending"

    # ---- the manager approves in a second browser (same kind of device)
    manager = context_factory(**(PHONE if phone else DESKTOP)).new_page()
    manager_csp = CspWatch(manager)
    login(manager, "manager")
    manager.goto(f"{url}/notifications/")  # the approval request arrives as a notification
    manager.get_by_role("link").filter(has_text=quote.number).first.click()
    manager.wait_for_url("**/approvals/*/")  # the approval request (kehu/approvals), which links the quote
    manager.get_by_test_id("record-link").click()
    manager.wait_for_url(f"**{quote.get_absolute_url()}")
    form = manager.get_by_test_id("decide-form")
    form.locator("select[name=decision]").select_option("approve")
    form.locator("textarea[name=comment]").fill("同意，战略客户")
    fits(manager, manager.get_by_test_id("decide"), width)
    manager.get_by_test_id("decide").click()
    expect(manager.get_by_test_id("approvals")).to_contain_text("同意，战略客户")
    assert Quote.objects.get(pk=quote.pk).status == "approved"

    # ---- the rep downloads the PDF: a PDF with the customer's name
    rep.reload()
    pdf_link = rep.get_by_test_id("pdf-zh")
    fits(rep, pdf_link, width)
    response = rep.request.get(f"{url}{pdf_link.get_attribute('href')}")
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    body = response.body()
    assert body.startswith(b"%PDF")
    text = pdf_text(body)
    assert COMPANY in text, text[:500]
    assert quote.number in text

    # ---- sent, accepted by the customer
    rep.get_by_test_id("send").click()
    flash(rep, "Marked as sent")
    rep.get_by_test_id("accept").click()
    expect(rep.get_by_test_id("make-contract")).to_be_visible()
    assert Quote.objects.get(pk=quote.pk).status == "accepted"

    # ---- the contract from the quote, with two instalments; submitted, approved, signed
    fits(rep, rep.get_by_test_id("make-contract"), width)
    rep.get_by_test_id("make-contract").click()
    expect(rep.get_by_test_id("instalments")).to_be_visible()
    contract = Contract.objects.get(quote=quote)
    assert contract.amount == Decimal("96050.00") and contract.customer_id == customer.pk
    today = timezone.localdate()
    rep.get_by_test_id("plan-form").locator("textarea[name=plan]").fill(
        f"{today.isoformat()} 28815.00 预付款\n{(today + dt.timedelta(days=90)).isoformat()} 67235.00 尾款"
    )
    rep.get_by_test_id("plan-form").get_by_role("button").click()
    expect(rep.get_by_test_id("instalments").locator("tbody tr")).to_have_count(2)
    status = rep.get_by_test_id("contract-status")
    status.locator("select[name=status]").select_option("pending")
    status.get_by_role("button").click()
    flash(rep, "Status changed")

    manager.goto(f"{url}{contract.get_absolute_url()}")
    status = manager.get_by_test_id("contract-status")
    status.locator("select[name=status]").select_option("approved")
    status.locator("input[name=comment]").fill("条款已审")
    status.get_by_role("button").click()
    flash(manager, "Status changed")

    rep.reload()
    status = rep.get_by_test_id("contract-status")
    status.locator("select[name=status]").select_option("active")
    status.locator("input[name=signed_date]").fill(today.isoformat())
    status.get_by_role("button").click()
    flash(rep, "Status changed")
    contract.refresh_from_db()
    assert contract.status == "active" and contract.signed_date == today

    # ---- the order from the quote, delivered: the installed base appears on the customer's 360° page
    rep.goto(f"{url}{quote.get_absolute_url()}")
    expect(rep.get_by_test_id("open-contract")).to_contain_text(contract.number)
    expect(rep.get_by_test_id("make-contract")).to_have_count(0)
    fits(rep, rep.get_by_test_id("make-order"), width)
    rep.get_by_test_id("make-order").click()
    expect(rep.get_by_test_id("order-lines")).to_be_visible()
    order = Order.objects.get(quote=quote)
    assert order.total == Decimal("96050.00") and order.contract_id == contract.pk
    expect(rep.get_by_test_id("order-status")).to_have_count(0)  # reps enter orders; status is the office's
    # the manager (the ERP, by API, in production) records the delivery
    manager.goto(f"{url}{order.get_absolute_url()}")
    status = manager.get_by_test_id("order-status")
    status.locator("select[name=status]").select_option("delivered")
    status.get_by_test_id("serials").locator("summary").click()
    status.get_by_test_id("serials-1").fill("KP300-2605-0001\nKP300-2605-0002")
    fits(manager, manager.get_by_test_id("order-status-save"), width)
    manager.get_by_test_id("order-status-save").click()
    flash(manager, "Status changed")
    assert Order.objects.get(pk=order.pk).status == "delivered"
    units = InstalledProduct.objects.filter(customer=customer, product=product)
    assert sorted(units.values_list("serial_number", "quantity")) == [
        ("KP300-2605-0001", 1),
        ("KP300-2605-0002", 1),
    ]
    rep.goto(f"{url}{customer.get_absolute_url()}")
    panel = rep.get_by_test_id("installed-base")
    expect(panel).to_contain_text(product.name)
    expect(panel).to_contain_text("KP300-2605-0001")
    expect(panel).to_contain_text("KP300-2605-0002")

    # ---- a payment received: the first instalment shows paid
    rep.goto(f"{url}{contract.get_absolute_url()}")
    payment = rep.get_by_test_id("payment-form")
    payment.locator("input[name=amount]").fill("28815.00")
    payment.locator("select[name=method]").select_option(index=1)
    fits(rep, rep.get_by_test_id("payment-save"), width)
    rep.get_by_test_id("payment-save").click()
    flash(rep, "Payment recorded")
    first = rep.get_by_test_id("instalments").locator("tbody tr").first
    expect(first).to_contain_text("Paid")
    expect(rep.get_by_test_id("outstanding")).to_contain_text("67235.00")
    assert Instalment.objects.get(contract=contract, sequence=1).status == "paid"
    csp.check()
    manager_csp.check()

    # ---- a month without follow-up: the recycle rule warns the rep, then returns the customer to the pool
    frozen_clock.shift(dt.timedelta(days=28))
    pools.pools_recycle(now=timezone.now())
    assert PoolEvent.objects.filter(customer=customer, kind="warned").count() == 1
    login(rep, "rep1")  # a month later: the session has expired
    rep.goto(f"{url}/notifications/")
    expect(rep.get_by_text(customer.name).first).to_be_visible()
    frozen_clock.shift(dt.timedelta(days=3, hours=1))
    pools.pools_recycle(now=timezone.now())
    assert PoolEvent.objects.filter(customer=customer, kind="recycled").count() == 1
    customer.refresh_from_db()
    assert customer.owner_id is None

    # ---- another rep of the region sees who held it and why it came back, and claims it
    other = context_factory(**(PHONE if phone else DESKTOP)).new_page()
    other_csp = CspWatch(other)
    login(other, "rep2")
    other.goto(f"{url}/sales/pools/")
    other.get_by_role("link", name=pool.name).click()
    row = other.locator(f"tr[data-customer='{customer.name}']")
    history = row.get_by_test_id("pool-history")
    expect(history).to_contain_text(str(seeded.users["rep1"]))
    expect(history).to_contain_text("no follow-up for 30 days")
    fits(other, row.get_by_test_id("claim"), width)
    row.get_by_test_id("claim").click()
    other.wait_for_url(f"**{customer.get_absolute_url()}")
    customer.refresh_from_db()
    assert customer.owner_id == seeded.users["rep2"].pk
    assert PoolEvent.objects.filter(customer=customer, kind="claimed", to_owner=seeded.users["rep2"]).exists()
    other.goto(f"{url}/sales/pools/")
    expect(other.get_by_test_id("my-customers")).to_contain_text(customer.name)
    other_csp.check()
    csp.check()
