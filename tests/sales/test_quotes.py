"""Quotes: pricing from the price list (class, currency, tiers), totals, discount approval, send, accept,
revisions, expiry, the PDF, pages and API."""

from __future__ import annotations

import datetime as dt
import re
import zlib
from decimal import Decimal as D

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from kehu.approvals.services import pending_request
from kehu.core.exceptions import BusinessRuleError
from kehu.core.models import FieldGrant, Notification
from kehu.interactions.models import Interaction
from kehu.products.models import PriceList, PriceListItem, Product
from kehu.sales.models import DiscountLimit, QuoteApproval, QuoteLine, QuoteStatus
from kehu.sales.services import opportunities, quotes
from tests.sales.conftest import demo_role


@pytest.fixture
def catalogue(db, now):
    product = Product.objects.create(sku="AC-100", name="空压机 AC-100", list_price=D("1200"), currency="CNY")
    day = now.date() - dt.timedelta(days=30)
    general = PriceList.objects.create(name="标准价 Standard", currency="CNY", valid_from=day)
    PriceListItem.objects.create(price_list=general, product=product, unit_price=D("1000"))
    PriceListItem.objects.create(
        price_list=general, product=product, min_quantity=D("10"), unit_price=D("900")
    )
    usd = PriceList.objects.create(name="Export", currency="USD", valid_from=day)
    PriceListItem.objects.create(price_list=usd, product=product, unit_price=D("150"))
    return {"product": product, "cny": general, "usd": usd}


@pytest.fixture
def limits(org):
    DiscountLimit.objects.create(
        role=demo_role("sales_rep"), max_line_discount=D("10"), max_total_discount=D("5")
    )
    DiscountLimit.objects.create(
        role=demo_role("sales_manager"), max_line_discount=D("25"), max_total_discount=D("15")
    )


@pytest.fixture
def deal(org, account, pipeline, catalogue):
    opp = opportunities.opportunity_create(data={"name": "两台空压机", "customer": account}, by=org.rep1)
    opportunities.opportunity_line_add(
        opportunity=opp, data={"product": catalogue["product"], "quantity": D("12")}, by=org.rep1
    )
    return opp


def test_quote_from_opportunity_takes_lines_and_tier_prices(org, account, deal, catalogue):
    quote = quotes.quote_create(customer=account, opportunity=deal, by=org.rep1)
    line = quote.lines.get()
    assert quote.price_list == catalogue["cny"] and quote.currency == "CNY"
    assert quote.number.startswith("Q") and quote.status == QuoteStatus.DRAFT
    assert (line.quantity, line.unit_price, line.list_price) == (D("12"), D("900"), D("900"))
    assert (quote.net_amount, quote.tax_amount, quote.total) == (D("10800.00"), D("1404.00"), D("12204.00"))
    # fewer pieces than the tier: the line is re-priced at the base price
    quotes.quote_line_update(line=line, data={"quantity": D("2")}, by=org.rep1)
    quote.refresh_from_db()
    assert quote.lines.get().unit_price == D("1000") and quote.total == D("2260.00")


def test_price_list_in_another_currency_is_refused_and_nothing_saved(org, account, catalogue):
    with pytest.raises(ValidationError) as exc:
        quotes.quote_create(
            customer=account, by=org.rep1, price_list=catalogue["usd"], data={"currency": "CNY"}
        )
    assert "currency" in exc.value.message_dict
    assert not account.quotes.exists()


def test_bad_lines_are_refused_per_field(org, account, catalogue):
    quote = quotes.quote_create(customer=account, by=org.rep1)
    for data, field in (
        ({"product": catalogue["product"], "quantity": D("0")}, "quantity"),
        ({"product": catalogue["product"], "quantity": D("-1")}, "quantity"),
        ({"description": "Installation", "quantity": D("1")}, "unit_price"),
        (
            {"product": catalogue["product"], "quantity": D("1"), "discount_percent": D("120")},
            "discount_percent",
        ),
    ):
        with pytest.raises(ValidationError) as exc:
            quotes.quote_line_add(quote=quote, data=data, by=org.rep1)
        assert field in exc.value.message_dict
    quote.refresh_from_db()
    assert not quote.lines.exists() and quote.total == 0


def test_discount_above_limit_needs_approval_before_sending(org, account, deal, limits, smtp_settings):
    quote = quotes.quote_create(customer=account, opportunity=deal, by=org.rep1)
    line = quote.lines.get()
    quotes.quote_line_update(line=line, data={"discount_percent": D("8")}, by=org.rep1)
    quote.refresh_from_db()
    assert quote.approval_required  # 8% total > the rep's 5%
    with pytest.raises(BusinessRuleError):
        quotes.quote_send(quote=quote, by=org.rep1)
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.DRAFT and quote.sent_at is None

    approval = quotes.quote_submit(quote=quote, by=org.rep1, reason="战略客户")
    assert quote.status == QuoteStatus.PENDING_APPROVAL
    # the approver is sent to the request's page on the approval engine (decide there, also on a phone)
    request = pending_request(quote)
    assert Notification.objects.filter(user=org.manager, url=request.get_absolute_url()).exists()
    with pytest.raises(PermissionDenied):
        quotes.quote_decide(approval=approval, approve=True, comment="", by=org.rep2)
    with pytest.raises(ValidationError) as exc:
        quotes.quote_decide(approval=approval, approve=False, comment="", by=org.manager)
    assert "comment" in exc.value.message_dict
    quotes.quote_decide(approval=approval, approve=True, comment="同意", by=org.manager)
    with pytest.raises(BusinessRuleError):  # a second decision on the same request
        quotes.quote_decide(approval=approval, approve=False, comment="不同意", by=org.manager)
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.APPROVED and quote.approved_by == org.manager
    assert Notification.objects.filter(user=org.rep1, url=quote.get_absolute_url()).exists()

    quotes.quote_send(quote=quote, by=org.rep1)
    assert quote.status == QuoteStatus.SENT
    event = Interaction.objects.get(related_model="sales.quote.sent", related_id=str(quote.pk))
    assert event.customer == account
    quotes.quote_respond(quote=quote, accepted=True, by=org.rep1)
    assert quote.status == QuoteStatus.ACCEPTED


def test_rejected_quote_returns_to_draft_when_edited(org, account, deal, limits):
    quote = quotes.quote_create(customer=account, opportunity=deal, by=org.rep1)
    quotes.quote_line_update(line=quote.lines.get(), data={"discount_percent": D("30")}, by=org.rep1)
    approval = quotes.quote_submit(quote=quote, by=org.rep1)
    quotes.quote_decide(approval=approval, approve=False, comment="折扣太大", by=org.manager)
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.REJECTED
    quotes.quote_line_update(line=quote.lines.get(), data={"discount_percent": D("4")}, by=org.rep1)
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.DRAFT and not quote.approval_required
    quotes.quote_send(quote=quote, by=org.rep1)


def test_within_limit_needs_no_approval(org, account, deal, limits):
    quote = quotes.quote_create(customer=account, opportunity=deal, by=org.rep1)
    quotes.quote_line_update(line=quote.lines.get(), data={"discount_percent": D("5")}, by=org.rep1)
    with pytest.raises(BusinessRuleError):
        quotes.quote_submit(quote=quote, by=org.rep1)
    quotes.quote_send(quote=quote, by=org.rep1)


def test_revision_supersedes_and_keeps_old_lines(org, account, deal):
    quote = quotes.quote_create(customer=account, opportunity=deal, by=org.rep1)
    quotes.quote_send(quote=quote, by=org.rep1)
    new = quotes.quote_revise(quote=quote, by=org.rep1)
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.SUPERSEDED and quote.lines.count() == 1
    assert (new.number, new.revision, new.previous) == (quote.number, 2, quote)
    assert new.status == QuoteStatus.DRAFT and new.total == quote.total and new.lines.count() == 1
    with pytest.raises(BusinessRuleError):
        quotes.quote_revise(quote=quote, by=org.rep1)
    with pytest.raises(BusinessRuleError):  # a superseded quote's lines are frozen
        quotes.quote_line_update(line=quote.lines.get(), data={"discount_percent": D("1")}, by=org.rep1)


def test_expiry_by_the_scheduler(org, account, deal, now, frozen_clock):
    quote = quotes.quote_create(customer=account, opportunity=deal, by=org.rep1)
    quotes.quote_send(quote=quote, by=org.rep1)
    assert quotes.quotes_expire() == 0
    frozen_clock.shift(dt.timedelta(days=31))
    from kehu.sales.tasks import run_sales_schedule

    result = run_sales_schedule.call()
    assert result["quotes_expired"] == 1
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.EXPIRED
    with pytest.raises(BusinessRuleError):
        quotes.quote_respond(quote=quote, accepted=True, by=org.rep1)


def test_two_approvals_cannot_be_pending(org, account, deal, limits):
    quote = quotes.quote_create(customer=account, opportunity=deal, by=org.rep1)
    quotes.quote_line_update(line=quote.lines.get(), data={"discount_percent": D("20")}, by=org.rep1)
    quotes.quote_submit(quote=quote, by=org.rep1)
    with pytest.raises(BusinessRuleError):  # no longer editable → no second submission
        quotes.quote_submit(quote=quote, by=org.rep1)
    assert QuoteApproval.objects.filter(quote=quote).count() == 1


def _pdf_fonts(pdf: bytes) -> str:
    text = pdf.decode("latin-1")
    for match in re.finditer(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        try:
            text += zlib.decompress(match.group(1)).decode("latin-1")
        except zlib.error:
            pass
    return text


def test_pdf_in_chinese_embeds_a_cjk_font_and_hides_hidden_fields(org, account, deal):
    from kehu.sales.pdf import quote_pdf

    quote = quotes.quote_create(
        customer=account, opportunity=deal, by=org.rep1, data={"terms": "货到付款 SECRET-TERMS"}
    )
    pdf = quote_pdf(quote=quote, user=org.rep1, language="zh-hans")
    assert pdf.startswith(b"%PDF")
    content = _pdf_fonts(pdf)
    assert re.search(r"FontName\s*/[A-Z]{6}\+Noto-?Sans-?CJK", content), "no embedded CJK font"
    assert "FontFile" in content
    en = quote_pdf(quote=quote, user=org.rep1, language="en")
    assert en.startswith(b"%PDF") and en != pdf
    # a role for which the terms are hidden never gets them printed: compare the text layer sizes
    FieldGrant.objects.create(
        role=demo_role("sales_rep"), model="sales.quote", field="terms", access="hidden"
    )
    from kehu.core.models import User
    from kehu.sales.pdf import quote_context

    rep = User.objects.get(pk=org.rep1.pk)  # a fresh user: rights are cached per user object
    assert "terms" not in quote_context(quote=quote, user=rep)["fields"]
    assert len(quote_pdf(quote=quote, user=rep, language="zh-hans")) < len(pdf)


# ------------------------------------------------------------------------------------------------ pages
def test_pages_list_detail_and_actions(client, org, account, deal, limits):
    client.force_login(org.rep1)
    response = client.post(reverse("sales:quote_from_opportunity", args=[deal.pk]))
    quote = account.quotes.get()
    assert response.status_code == 302 and response["Location"] == quote.get_absolute_url()
    page = client.get(quote.get_absolute_url())
    assert page.status_code == 200 and quote.number in page.content.decode()
    listing = client.get(reverse("sales:quotes"))
    assert quote.number in listing.content.decode()
    line = quote.lines.get()
    client.post(
        reverse("sales:quote_line_edit", args=[line.pk]),
        {"quantity": "12", "unit_price": "900", "discount_percent": "20", "tax_rate": "13.00"},
    )
    quote.refresh_from_db()
    assert quote.approval_required
    client.post(reverse("sales:quote_action", args=[quote.pk, "submit"]), {"version": quote.version})
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.PENDING_APPROVAL
    client.force_login(org.manager)
    approval = quote.approvals.get()
    client.post(reverse("sales:quote_decide", args=[approval.pk]), {"decision": "approve", "comment": "好"})
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.APPROVED
    pdf = client.get(reverse("sales:quote_pdf", args=[quote.pk]) + "?lang=en")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    client.force_login(org.rep3)  # another department: not visible
    assert client.get(quote.get_absolute_url()).status_code == 404
    assert client.get(reverse("sales:quote_pdf", args=[quote.pk])).status_code == 404


def test_api_create_lines_submit_decide_send(client, org, account, deal, limits):
    client.force_login(org.rep1)
    created = client.post(
        "/api/quotes/", {"customer": account.pk, "opportunity": deal.pk}, content_type="application/json"
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["total"] == "12204.00" and len(body["lines"]) == 1
    qid = body["id"]
    line_id = body["lines"][0]["id"]
    changed = client.patch(
        f"/api/quote-lines/{line_id}/",
        {"discount_percent": "20"},
        content_type="application/json",
        HTTP_IF_MATCH=f'"{line_id}-1"',
    )
    assert changed.status_code == 200, changed.content
    refused = client.post(f"/api/quotes/{qid}/send/", content_type="application/json")
    assert refused.status_code == 400 and "status" in refused.json()
    assert (
        client.post(
            f"/api/quotes/{qid}/submit/", {"reason": "大单"}, content_type="application/json"
        ).status_code
        == 200
    )
    client.force_login(org.manager)
    approval = QuoteApproval.objects.get(quote_id=qid)
    decided = client.post(
        f"/api/quotes/{qid}/decide/", {"approve": True, "comment": "ok"}, content_type="application/json"
    )
    assert decided.status_code == 200, decided.content
    assert decided.json()["status"] == "approved"
    approval.refresh_from_db()
    assert approval.decision == "approved"
    client.force_login(org.rep1)
    sent = client.post(f"/api/quotes/{qid}/send/", content_type="application/json")
    assert sent.status_code == 200 and sent.json()["status"] == "sent"
    assert (
        client.post(f"/api/quotes/{qid}/accept/", content_type="application/json").json()["status"]
        == "accepted"
    )
    pdf = client.get(f"/api/quotes/{qid}/pdf/")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    client.force_login(org.rep3)
    assert client.get(f"/api/quotes/{qid}/").status_code == 404
    assert QuoteLine.objects.filter(quote_id=qid).count() == 1


def test_quote_form_creates_a_numbered_quote_priced_from_the_list(client, org, account, catalogue):
    client.force_login(org.rep1)
    response = client.post(
        reverse("sales:quote_create"), {"customer": account.pk, "title": "年度采购", "language": "en"}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    quote = account.quotes.get()
    assert quote.number.startswith("Q") and quote.price_list == catalogue["cny"] and quote.language == "en"
    client.post(
        reverse("sales:quote_line_add", args=[quote.pk]),
        {"product": catalogue["product"].pk, "quantity": "10", "discount_percent": "0", "tax_rate": "13.00"},
    )
    assert quote.lines.get().unit_price == D("900")  # the 10+ tier


def test_navigation_lists_the_quote_to_cash_pages_by_right(org):
    from kehu.ui.navigation import build

    keys = {item["key"]: item for section in build(org.rep1) for item in section["items"]}
    assert {"quotes", "orders", "contracts", "receivables"} <= set(keys)
    assert keys["quotes"]["url"] == reverse("sales:quotes") and not keys["quotes"]["soon"]


def test_send_by_email_attaches_the_pdf_and_logs_the_email(
    org, account, deal, mailoutbox, django_capture_on_commit_callbacks
):
    quote = quotes.quote_create(customer=account, opportunity=deal, by=org.rep1)
    with pytest.raises(ValidationError):
        quotes.quote_send(quote=quote, by=org.rep1, email_to="not-an-address")
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.DRAFT  # nothing half-saved
    with django_capture_on_commit_callbacks(execute=True):
        quotes.quote_send(quote=quote, by=org.rep1, email_to="buyer@example.com", message="请查收报价。")
    (mail,) = mailoutbox
    assert mail.to == ["buyer@example.com"] and mail.attachments[0][0].endswith(".pdf")
    assert mail.attachments[0][1][:4] == b"%PDF"
    logged = Interaction.objects.get(customer=account, channel="email")
    assert logged.direction == "out" and quote.number in logged.subject


def test_price_list_pages_and_api(org, catalogue, client_for, api_for):
    client = client_for(org.manager)
    listing = client.get(reverse("products:pricelists"))
    assert listing.status_code == 200 and "标准价 Standard" in listing.content.decode()
    detail = client.get(catalogue["cny"].get_absolute_url())
    assert detail.status_code == 200 and "900" in detail.content.decode()
    client.post(
        reverse("products:pricelist_item_add", args=[catalogue["cny"].pk]),
        {"product": catalogue["product"].pk, "min_quantity": "50", "unit_price": "850"},
    )
    assert PriceListItem.objects.filter(price_list=catalogue["cny"], min_quantity=D("50")).exists()
    client.post(  # the same tier again is refused, not a server error
        reverse("products:pricelist_item_add", args=[catalogue["cny"].pk]),
        {"product": catalogue["product"].pk, "min_quantity": "50", "unit_price": "800"},
    )
    assert PriceListItem.objects.filter(price_list=catalogue["cny"], min_quantity=D("50")).count() == 1
    body = api_for(org.rep1).get(f"/api/price-lists/{catalogue['cny'].pk}/").json()
    assert body["currency"] == "CNY" and len(body["items"]) == 3
    rep = client_for(org.rep1)
    assert rep.post(reverse("products:pricelist_create"), {"name": "x"}).status_code == 403


def test_pdf_lines_have_fixed_column_widths_for_the_visible_columns(org, account, deal):
    from django.template.loader import render_to_string

    from kehu.sales.pdf import LINE_FIELDS, column_widths, quote_context

    widths = column_widths(["#", *LINE_FIELDS])
    assert abs(sum(float(w.rstrip("%")) for w in widths) - 100) < 0.05
    quote = quotes.quote_create(customer=account, opportunity=deal, by=org.rep1, data={})
    context = quote_context(quote=quote, user=org.rep1)
    assert len(context["line_widths"]) == len(context["line_fields"]) + 1 == len(LINE_FIELDS) + 1
    html = render_to_string("sales/quote_pdf.html", context)
    assert "table-layout: fixed" in html and f"col:nth-child(2) {{ width: {widths[1]}; }}" in html
    assert html.count("<col>") == len(LINE_FIELDS) + 1
    # a column the user may not see is not printed (quote_context leaves it out): the others share its width
    shown = [n for n in ["#", *LINE_FIELDS] if n != "discount_percent"]
    narrower = column_widths(shown)
    assert len(narrower) == len(LINE_FIELDS)
    assert abs(sum(float(w.rstrip("%")) for w in narrower) - 100) < 0.05
    assert float(narrower[1].rstrip("%")) > float(widths[1].rstrip("%"))
