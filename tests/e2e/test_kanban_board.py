"""The kanban board in a real browser: a rep drags a deal to the next stage (the database and the column totals
follow), closes one as lost with a reason (and the competitor), refuses a close (the card goes back), meets a stale move (someone
else moved the deal: a clear message, the columns reload); on a phone viewport one column shows at a time and
a deal moves through the "Move to…" menu. Any Content-Security-Policy violation fails the test."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kehu.customers.models import Customer
from kehu.sales.models import CloseReason, Competitor
from kehu.sales.services import opportunities

pytestmark = pytest.mark.e2e

CSP_WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + (e.sourceFile || ""));
});
"""


class CspWatch:
    """Collects CSP violations (the DOM event, and Chromium's console report) and page errors."""

    def __init__(self, page):
        self.page = page
        self.problems: list[str] = []
        page.add_init_script(CSP_WATCH)
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))

    def _console(self, msg):
        if "Content Security Policy" in msg.text or "Content-Security-Policy" in msg.text:
            self.problems.append(f"console: {msg.text}")

    def check(self):
        violations = self.page.evaluate("window.__cspViolations || []")
        assert violations == [] and self.problems == [], (violations, self.problems)


@pytest.fixture
def board(seeded):
    rep = seeded.users["rep1"]
    pipeline = opportunities.pipeline_default()
    Competitor.objects.create(name="阿特拉斯 Atlas")
    stages = {s.probability if s.kind == "open" else s.kind: s for s in pipeline.stages.all()}
    customers = list(Customer.objects.filter(owner=rep).order_by("id")[:4])
    deals = {}
    for index, name in enumerate(["压缩机 A", "冷干机 B", "储气罐 C", "过滤器 D"]):
        deals[name[-1]] = opportunities.opportunity_create(
            data={"name": name, "customer": customers[index % len(customers)], "amount": Decimal("100000")},
            by=rep,
        )
    return pipeline, stages, deals, rep


def _drag(page, source, target):
    """Drag with the mouse in small steps (SortableJS runs in fallback mode: pointer events)."""
    box = page.locator(source).bounding_box()
    goal = page.locator(target).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 5, box["y"] + box["height"] / 2 + 8, steps=3)
    page.mouse.move(goal["x"] + goal["width"] / 2, goal["y"] + goal["height"] / 2, steps=15)
    page.mouse.move(goal["x"] + goal["width"] / 2, goal["y"] + goal["height"] / 2 + 2, steps=2)
    page.mouse.up()


def test_drag_close_refuse_and_stale_move_on_desktop(board, context_factory, login, live_server):
    pipeline, stages, deals, rep = board
    page = context_factory(viewport={"width": 1600, "height": 900}).new_page()
    csp = CspWatch(page)
    login(page, "rep1")
    page.goto(f"{live_server.url}/sales/board/")
    a, b, c, d = deals["A"], deals["B"], deals["C"], deals["D"]
    discovery, qualification = stages[10].pk, stages[25].pk
    assert page.inner_text(f"[data-testid=count-{discovery}]") == "4"

    # drag A to qualification: stored, and the heads show the new counts and weighted totals
    _drag(page, f"[data-testid=card-{a.pk}]", f"[data-testid=column-{qualification}] [data-cards]")
    page.wait_for_selector("[data-testid=board-message]:has-text('Moved to Qualification')")
    a.refresh_from_db()
    assert a.stage_id == qualification and a.probability == 25
    assert page.inner_text(f"[data-testid=count-{qualification}]") == "1"
    assert page.inner_text(f"[data-testid=count-{discovery}]") == "3"
    assert "CNY 25,000.00" in page.inner_text(f"[data-testid=weighted-{qualification}-CNY]")
    assert "CNY 30,000.00" in page.inner_text(f"[data-testid=weighted-{discovery}-CNY]")

    # drop B on "lost": the reason is asked, the deal closes, the card leaves the board
    lost = stages["lost"].pk
    reason = CloseReason.objects.filter(kind="lost").order_by("position").first()
    _drag(page, f"[data-testid=card-{b.pk}]", f"[data-testid=column-{lost}] [data-cards]")
    page.wait_for_selector("[data-testid=close-dialog][open]")
    page.select_option("[data-testid=lost-reason]", str(reason.pk))
    competitor = Competitor.objects.get()
    page.select_option("[data-testid=lost-to]", str(competitor.pk))
    page.fill("[data-testid=close-note]", "预算取消")
    page.click("[data-testid=close-confirm]")
    page.wait_for_selector("[data-testid=board-message]:has-text('Deal closed')")
    b.refresh_from_db()
    assert b.status == "lost" and b.close_reason_id == reason.pk and b.close_note == "预算取消"
    assert b.lost_to_id == competitor.pk
    assert page.locator(f"[data-testid=card-{b.pk}]").count() == 0
    assert page.inner_text(f"[data-testid=count-{lost}]") == "1"

    # drop C on "won" and refuse: the card is back where it was, nothing stored
    won = stages["won"].pk
    _drag(page, f"[data-testid=card-{c.pk}]", f"[data-testid=column-{won}] [data-cards]")
    page.wait_for_selector("[data-testid=close-dialog][open]")
    page.click("[data-testid=close-cancel]")
    page.wait_for_selector(f"[data-testid=column-{discovery}] [data-testid=card-{c.pk}]")
    c.refresh_from_db()
    assert c.stage_id == discovery and c.status == "open"

    # someone else moves D meanwhile: the drag is refused with a clear message, the columns reload (D shows
    # where it is now)
    opportunities.opportunity_move(opportunity=d, stage=stages[50], by=rep)
    _drag(page, f"[data-testid=card-{d.pk}]", f"[data-testid=column-{qualification}] [data-cards]")
    page.wait_for_selector("[data-testid=board-message]:has-text('Someone else changed this deal')")
    page.wait_for_selector(f"[data-testid=column-{stages[50].pk}] [data-testid=card-{d.pk}]")
    assert page.locator(f"[data-testid=column-{qualification}] [data-testid=card-{d.pk}]").count() == 0
    assert page.locator(f"[data-testid=column-{discovery}] [data-testid=card-{d.pk}]").count() == 0
    d.refresh_from_db()
    assert d.stage_id == stages[50].pk
    assert page.inner_text(f"[data-testid=count-{stages[50].pk}]") == "1"
    csp.check()


def test_phone_shows_one_column_and_moves_through_the_menu(board, context_factory, login, live_server):
    pipeline, stages, deals, rep = board
    page = context_factory(viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True).new_page()
    csp = CspWatch(page)
    login(page, "rep1")
    page.goto(f"{live_server.url}/sales/board/")
    discovery, negotiation = stages[10].pk, stages[50].pk
    assert page.is_visible(f"[data-testid=column-{discovery}]")
    assert not page.is_visible(f"[data-testid=column-{negotiation}]")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, width  # no sideways scrolling on a phone

    a = deals["A"]
    page.click(f"[data-testid=move-menu-{a.pk}]")
    page.wait_for_selector("[data-testid=move-dialog][open]")
    page.click(f"[data-testid=move-to-{negotiation}]")
    page.wait_for_selector("[data-testid=board-message]:has-text('Moved to Negotiation')")
    a.refresh_from_db()
    assert a.stage_id == negotiation
    page.select_option("[data-testid=stage-switch]", str(negotiation))
    assert page.is_visible(f"[data-testid=column-{negotiation}] [data-testid=card-{a.pk}]")
    assert not page.is_visible(f"[data-testid=column-{discovery}]")
    assert page.inner_text(f"[data-testid=count-{negotiation}]") == "1"

    # closing through the menu asks the reason too
    b = deals["B"]
    page.select_option("[data-testid=stage-switch]", str(discovery))
    page.click(f"[data-testid=move-menu-{b.pk}]")
    page.click(f"[data-testid=move-to-{stages['won'].pk}]")
    page.wait_for_selector("[data-testid=close-dialog][open]")
    reason = CloseReason.objects.filter(kind="won").order_by("position").first()
    page.select_option("[data-testid=won-reason]", str(reason.pk))
    page.click("[data-testid=close-confirm]")
    page.wait_for_selector("[data-testid=board-message]:has-text('Deal closed')")
    b.refresh_from_db()
    assert b.status == "won" and b.close_reason_id == reason.pk
    csp.check()
