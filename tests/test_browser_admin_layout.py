"""The admin's layout in Chromium (#27): no admin page scrolls sideways at 1280 or 390 px (the dashboard, the order
list, an order's page, the prepaid account, the balance-order form, the alert log, the webhook endpoints and
deliveries, the notification rules), the order list's key columns on a phone, and the prepaid account's funding
row that updates itself once the balance is credited (htmx). Set SHOTS_DIR=/some/dir to save screenshots
(named layout-*).

Run: bin/with_redis.py .venv/bin/pytest -m browser tests/test_browser_admin_layout.py
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from alerts.models import AlertLog, Event, NotificationRule, Result
from orders import lifecycle
from orders.models import Kind, Status
from sandbox.invoices import make_invoice
from tests.browser import shoot
from tests.factories import make_order
from tests.test_browser_admin_order_page import logged_in
from tests.test_browser_admin_order_page import operator as operator  # the fixture
from webhooks.models import Attempt, Delivery, Endpoint
from webhooks.models import Event as WebhookEvent

pytestmark = pytest.mark.browser

AT = datetime(2026, 12, 3, 10, 4, 5, tzinfo=UTC)


@pytest.fixture
def busy_shop(transactional_db, sandbox_url, settings):
    """Orders of every kind (a balance SMS order, a rental, a long invoice), an alert with a long error, a webhook
    delivery that failed with a long error."""
    invoice = make_invoice(124500, "sms4sats payment USA tg " + "a very long description " * 4, AT)
    order = make_order(Status.UNPAID, bolt11=invoice.payreq, quoted_sats=124500, invoice_sats=124500)
    make_order(Status.COMPLETED, Kind.SEND, paid_from_balance=True, quoted_sats=2100, country_code=None,
               country_name="", service_code="", service_name="")  # fmt: skip
    make_order(Status.ACTIVE, Kind.RENTAL, rental_weeks=4, rental_ends_at=timezone.now() + timedelta(days=28))
    make_order(Status.REFUNDED, refund_reason="timeout")
    for _ in range(6):
        make_order(Status.COMPLETED, quoted_sats=12545)
    AlertLog.objects.create(
        event=Event.WEBHOOKS_FAILING,
        title="Webhook deliveries keep failing (1 endpoint)",
        body="x",
        result=Result.FAILED,
        error="target 1: " + "Connection refused while talking to the receiver " * 8,
    )
    endpoint = Endpoint.objects.create(
        url="https://a-rather-long-receiver-name.example.com/hooks/sms4sats/orders", events=["order.paid"]
    )
    event = WebhookEvent.objects.create(type="order.paid", body="{}", order=order)
    delivery = Delivery.objects.create(event=event, endpoint=endpoint, attempts=3)
    Attempt.objects.create(delivery=delivery, number=3, status_code=502, error="HTTP 502 " + "bad gateway " * 20)
    NotificationRule.objects.create(name="Sales", events=["order.completed"], urls="json://127.0.0.1:9/x")
    return order


def overflow(page):
    """How many pixels the page, or a table's own scroll box (Django's lists scroll inside ``.results``), is wider
    than it shows (0: nothing to scroll sideways to)."""
    return page.evaluate(
        """() => Math.max(
            document.documentElement.scrollWidth - document.documentElement.clientWidth,
            ...[...document.querySelectorAll('#changelist .results, .shop-section table')].map(
                box => box.scrollWidth - box.clientWidth))"""
    )


def pages(order):
    return {
        "dashboard": reverse("admin:dashboard"),
        "order-list": reverse("admin:orders_order_changelist"),
        "order-page": reverse("admin:orders_order_change", args=[order.pk]),
        "account": reverse("admin:prepaid_account"),
        "balance-order": reverse("admin:balance_order"),
        "alerts": reverse("admin:alerts_alertlog_changelist"),
        "endpoints": reverse("admin:webhooks_endpoint_changelist"),
        "deliveries": reverse("admin:webhooks_delivery_changelist"),
        "rules": reverse("admin:alerts_notificationrule_changelist"),
    }


@pytest.mark.parametrize("width", [1280, 390])
def test_no_admin_page_scrolls_sideways(browser, live_server, operator, busy_shop, width):
    context, page = logged_in(browser, live_server, width)
    try:
        wide = {}
        for name, url in pages(busy_shop).items():
            page.goto(live_server.url + url)
            page.wait_for_load_state("load")
            shoot(page, f"layout-{name}-{width}")
            if overflow(page) > 0:
                wide[name] = overflow(page)
        assert wide == {}, f"pages wider than {width} px (by so many px): {wide}"
    finally:
        context.close()


def test_the_order_list_on_a_phone_shows_state_what_and_amount(browser, live_server, operator, busy_shop):
    context, page = logged_in(browser, live_server, 390)
    try:
        page.goto(live_server.url + reverse("admin:orders_order_changelist"))
        row = page.locator("#result_list tbody tr").filter(has_text="124,500").first
        for cell in ("status", "service", "price"):
            box = row.locator(f"td.field-{cell}").bounding_box()
            assert box and box["width"] > 0 and box["x"] >= 0 and box["x"] + box["width"] <= 390, cell
        assert "Waiting for payment" in row.inner_text()
        sms = page.locator("#result_list tbody tr").filter(has_text="2,100").first
        assert "SMS" in sms.locator("td.field-service").inner_text()  # not "—"
    finally:
        context.close()


def test_the_funding_row_updates_itself(browser, live_server, operator, transactional_db, sandbox_url):
    fund = make_order(Status.HELD, Kind.FUND, quoted_sats=50000, country_code=None, service_code="")
    context, page = logged_in(browser, live_server, 1280)
    try:
        page.goto(live_server.url + reverse("admin:prepaid_account"))
        status = page.locator("#fund-orders td.fund-status").first
        assert status.inner_text() == "Paid (held)"  # paid, not yet credited
        lifecycle.transition(fund, Status.COMPLETED, completed_at=timezone.now())  # what the engine does on credit
        page.wait_for_function(
            "() => document.querySelector('#fund-orders td.fund-status').textContent.trim() === 'Completed'",
            timeout=15_000,
        )
        assert page.locator("#fund-orders").get_attribute("hx-trigger") is None  # final: it stops asking
    finally:
        context.close()
