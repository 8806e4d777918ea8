"""The admin's order page and the balance order form in Chromium: with a real invoice in the raw sms4sats
answers, the page never scrolls sideways at 1280 or 390 px, and the timeline is at the top.
Set SHOTS_DIR=/some/dir to save screenshots (named prepaid-*).

Run: bin/with_redis.py .venv/bin/pytest -m browser tests/test_browser_admin_order_page.py
"""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from orders.models import Order, Status
from sandbox.catalog import receive_price
from sandbox.invoices import make_invoice
from tests.browser import shoot
from tests.factories import make_order

pytestmark = pytest.mark.browser

PASSWORD = "pw-for-the-browser-123"
AT = datetime(2026, 12, 3, 10, 4, 5, tzinfo=UTC)


def overflow(page):
    """How many pixels the page is wider than the window (0: no sideways scroll)."""
    return page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")


def logged_in(browser, live_server, width):
    context = browser.new_context(viewport={"width": width, "height": 900}, device_scale_factor=1)
    page = context.new_page()
    page.goto(live_server.url + reverse("admin:login"))
    page.fill("#id_username", "admin")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")
    return context, page


@pytest.fixture
def operator(django_user_model, transactional_db):
    return django_user_model.objects.create_superuser("admin", "admin@example.com", PASSWORD)


@pytest.fixture
def order_with_an_invoice(transactional_db):
    invoice = make_invoice(4300, "sms4sats payment USA tg " + "a very long description " * 4, AT)
    original = make_order(Status.REFUNDED, created_at=AT, refund_reason="timeout", bolt11=invoice.payreq)
    return make_order(
        Status.COMPLETED,
        created_at=AT,
        paid_from_balance=True,
        replaces=original,
        number="12025550123",
        code="48213",
        upstream_id=invoice.payment_hash,
        bolt11="",
        events=[
            {"at": AT, "to_status": "new", "note": "Order placed by the operator, to be paid from the prepaid balance"},
            {"at": AT.replace(second=6), "from_status": "new", "to_status": "creating", "note": "Creating"},
            {
                "at": AT.replace(second=7),
                "from_status": "creating",
                "to_status": "held",
                "note": "Paid from balance: sms4sats took the price from the prepaid balance",
                "upstream": {"orderId": invoice.payment_hash, "payreq": "paid"},
            },
            {
                "at": AT.replace(second=9),
                "from_status": "held",
                "to_status": "completed",
                "note": "Code received; payment settled",
                # A real invoice (some 400 characters without a space) in a raw answer.
                "upstream": {"paid": True, "code": 48213, "payreq": invoice.payreq, "orderId": invoice.payment_hash},
            },
        ],
    )


@pytest.mark.parametrize("width", [1280, 390])
def test_the_order_page_never_scrolls_sideways(browser, live_server, operator, order_with_an_invoice, width):
    context, page = logged_in(browser, live_server, width)
    try:
        page.goto(live_server.url + reverse("admin:orders_order_change", args=[order_with_an_invoice.pk]))
        timeline = page.locator("#events-group")
        timeline.wait_for()
        answer = page.locator("pre.upstream-json").last
        assert len(answer.inner_text()) > 400  # the whole invoice is there
        assert overflow(page) <= 0
        # The raw answer wraps inside its cell instead of widening it.
        box = answer.bounding_box()
        assert box["x"] + box["width"] <= width
        # The timeline is the first thing under the buttons.
        first_fieldset = page.locator("fieldset.module.aligned").first
        assert timeline.bounding_box()["y"] < first_fieldset.bounding_box()["y"]
        assert page.locator("#events-group").get_by_text("2026-12-03 10:04:07 UTC").is_visible()
        assert page.get_by_text("Paid from balance: sms4sats took the price").is_visible()
        shoot(page, f"prepaid-change-page-{width}")
    finally:
        context.close()


def test_the_place_order_form(browser, live_server, operator, sandbox_url, transactional_db):
    context, page = logged_in(browser, live_server, 1280)
    try:
        page.goto(live_server.url + reverse("admin:balance_order"))
        page.select_option("#id_pick_country", "187")
        page.click("#choose-form input[type=submit]")  # the USA's services
        page.select_option("#id_pick_service", "tg")
        page.click("#choose-form input[type=submit]")  # and Telegram's price
        page.locator("#order-form").wait_for()
        assert page.locator("#price").inner_text() == f"{receive_price(187, 'tg'):,} sats"
        assert overflow(page) <= 0
        shoot(page, "prepaid-place-order-form")
        # The balance is empty: placing says so, and orders nothing.
        page.click("#order-form input[type=submit]")
        refusal = page.locator("#refusal")
        refusal.wait_for()
        assert "does not cover the price" in refusal.inner_text()
        assert not Order.objects.exists()
        shoot(page, "prepaid-place-order-refused")
    finally:
        context.close()


def test_a_cancel_asks_first_and_lands_on_the_history_with_the_users_name(
    browser, live_server, operator, transactional_db
):
    order = make_order(Status.WAITING_CODE, paid_after=1, upstream_id="up-browser-cancel", number="12025550199")
    context, page = logged_in(browser, live_server, 1280)
    try:
        page.goto(live_server.url + reverse("admin:orders_order_change", args=[order.pk]))
        page.click("a.cancel-action")
        # The admin's intermediate page: whose money goes where; nothing is sent yet.
        page.locator("#confirm-cancel").wait_for()
        assert "the buyer's held payment of 1,500 sats goes back to the buyer's wallet" in page.inner_text("#content")
        shoot(page, "audit-cancel-confirmation")
        order.refresh_from_db()
        assert order.cancel_requested_at is None
        page.click("#confirm-cancel")
        page.locator(".messagelist").wait_for()
        assert "cancel requested" in page.inner_text(".messagelist")
        assert page.get_by_text("Cancel requested by admin").is_visible()  # the timeline names the user
        page.goto(live_server.url + reverse("admin:orders_order_history", args=[order.pk]))
        row = page.locator("#change-history tbody tr").first
        assert "admin" in row.inner_text() and "Asked sms4sats to cancel" in row.inner_text()
        shoot(page, "audit-order-history")
    finally:
        context.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_screenshots_of_the_books(browser, live_server, operator, order_with_an_invoice, width):
    """The dashboard, the order list and an order page with orders paid by buyers and from the balance (to look at
    with SHOTS_DIR set); each page answers and names both payers."""
    make_order(Status.COMPLETED, created_at=AT, paid_at=AT, completed_at=AT.replace(second=30), invoice_sats=3000)
    context, page = logged_in(browser, live_server, width)
    try:
        page.goto(live_server.url + reverse("admin:dashboard"))
        assert "charged, paid from the balance" in page.inner_text("#figures").lower()
        shoot(page, f"books-dashboard-{width}")
        page.goto(live_server.url + reverse("admin:orders_order_changelist"))
        assert page.locator("td.field-paid_with_short").first.is_visible() or width < 768
        shoot(page, f"books-list-{width}")
        page.goto(live_server.url + reverse("admin:orders_order_change", args=[order_with_an_invoice.pk]))
        shoot(page, f"books-order-{width}")
    finally:
        context.close()
