"""Expenses in a real browser: a rep files an expense with a receipt photo on a phone (375 px wide, nothing
wider than the screen; a wrong file type refused on its field first), a manager approves it on a desktop."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from kehu.salesmgmt.models import Expense, ExpenseCategory

pytestmark = pytest.mark.e2e

PHONE = {
    "viewport": {"width": 375, "height": 812},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
PNG = b"\x89PNG\r\n\x1a\n a taxi receipt"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _no_overflow(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


def test_rep_files_on_a_phone_manager_approves_on_a_desktop(seeded, context_factory, login, live_server):
    category = ExpenseCategory.objects.create(name="市内交通 Local transport")
    phone = context_factory(**PHONE).new_page()
    login(phone, "rep1")
    phone.goto(f"{live_server.url}/sales-management/expenses/")
    _no_overflow(phone)
    phone.click("[data-testid=new-expense]")
    _no_overflow(phone)
    phone.select_option("#id_category", str(category.pk))
    phone.fill("#id_amount", "86.50")
    phone.fill("#id_description", "出租车 Taxi to the customer")
    # a wrong file type first: refused on the receipts field, nothing saved
    phone.set_input_files(
        "#id_receipts",
        files=[{"name": "receipt.exe", "mimeType": "application/octet-stream", "buffer": b"MZ"}],
    )
    phone.click("[data-testid=submit-expense]")
    expect(phone.locator("[data-testid=error-receipts]")).to_contain_text(".exe")
    assert not Expense.objects.exists()
    _no_overflow(phone)
    phone.set_input_files(
        "#id_receipts", files=[{"name": "taxi.png", "mimeType": "image/png", "buffer": PNG}]
    )
    phone.click("[data-testid=submit-expense]")
    expect(phone.locator("[data-testid=expense-status]")).to_have_text("Awaiting approval")
    expect(phone.locator("[data-testid=receipt]")).to_have_text("taxi.png")
    _no_overflow(phone)
    expense = Expense.objects.get()
    assert (
        expense.owner.username == "rep1" and str(expense.amount) == "86.50" and expense.receipts.count() == 1
    )

    desk = context_factory(viewport={"width": 1280, "height": 900}).new_page()
    login(desk, "manager")
    desk.goto(f"{live_server.url}/sales-management/expenses/approvals/")
    desk.click(f"[data-testid=pending-{expense.pk}] a")
    desk.fill("[data-testid=decision-comment]", "同意 OK")
    desk.click("[data-testid=approve]")
    expect(desk.locator("[data-testid=approvals]")).to_contain_text("Nothing to approve")
    expense.refresh_from_db()
    assert expense.status == "approved" and expense.decided_by.username == "manager"
    phone.reload()
    expect(phone.locator("[data-testid=expense-status]")).to_have_text("Approved")
    expect(phone.locator("[data-testid=decision]")).to_contain_text("同意 OK")
