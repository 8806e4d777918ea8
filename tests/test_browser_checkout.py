"""The buyer's checkout in a real browser (Chromium via Playwright) against a live server, the sandbox
over HTTP, a real Celery worker and Redis. Beat does not run in tests: a thread asks the worker to poll.

Run: bin/with_redis.py .venv/bin/pytest -m browser tests/test_browser_checkout.py
The fixtures (browser, page, shop) are in tests/browser.py.
"""

import pytest

from orders.models import Kind, Order, RefundReason, SmsStatus, Status
from tests.browser import choose, the_order
from tests.factories import make_order

pytestmark = pytest.mark.browser


def decode_qr(locator, path):
    import PIL.Image
    import zxingcpp

    locator.screenshot(path=str(path))
    return [result.text for result in zxingcpp.read_barcodes(PIL.Image.open(path))]


def test_receive_from_the_picker_to_the_code_without_a_reload(shop, page, tmp_path):
    page.goto(shop + "/")
    choose(page, 43, "tg")
    price_text = page.inner_text("#price-box .price-amount")
    page.get_by_role("button", name="Order number").click()

    page.wait_for_selector(".qr-svg")
    page.evaluate("window.__sameDocument = 'yes'")  # gone if the page reloads from here on
    order = the_order(kind=Kind.RECEIVE)
    assert order.status == Status.UNPAID and order.bolt11
    assert f"{order.quoted_sats:,}" == price_text
    assert page.inner_text(".amount-value") == f"{order.invoice_sats:,}"
    # The QR on the page is the invoice: lightning: + the BOLT11 in upper case.
    assert decode_qr(page.locator(".qr"), tmp_path / "qr.png") == ["lightning:" + order.bolt11.upper()]
    assert page.get_attribute("a.btn-primary", "href") == "lightning:" + order.bolt11
    assert page.get_attribute("#order-status [data-copy]", "data-copy") == order.bolt11
    countdown = page.inner_text("[data-countdown]")
    assert ":" in countdown

    page.click("text=Pay with the sandbox wallet")
    page.wait_for_selector("[data-number]")
    assert "locked, not spent" in page.inner_text("#order-status")
    code = page.wait_for_selector("[data-code]").inner_text()

    order.refresh_from_db()
    assert order.status == Status.COMPLETED
    assert code == order.code
    assert page.evaluate("window.__sameDocument") == "yes"  # no reload from the invoice to the code
    # Polling stopped at the terminal state (HTTP 286, and the final part has no hx-get).
    assert page.get_attribute("#order-status", "hx-get") is None
    status_requests = []
    page.on("request", lambda request: status_requests.append(request.url) if "/status" in request.url else None)
    page.wait_for_timeout(1500)
    assert status_requests == []


def test_send_an_sms_to_delivered(shop, page):
    page.goto(shop + "/send/")
    page.fill("#id_phone", "+44 7911 123456")
    page.fill("#id_message", "Hello from the browser test")
    assert page.inner_text("#message-counter") == "27 / 140 characters"
    page.get_by_role("button", name="Send SMS").click()
    page.wait_for_selector(".qr-svg")
    page.evaluate("window.__sameDocument = 'yes'")
    order = the_order(kind=Kind.SEND)
    assert order.phone == "+447911123456"

    page.click("text=Pay with the sandbox wallet")
    page.wait_for_selector(".sms-steps li[aria-current='step']:has-text('Delivered')")
    assert "Delivered" in page.inner_text(".status-title")
    order.refresh_from_db()
    assert order.status == Status.COMPLETED and order.sms_status == SmsStatus.DELIVERED
    assert page.evaluate("window.__sameDocument") == "yes"


def test_bad_phone_and_long_message_in_the_browser(shop, page):
    page.goto(shop + "/send/")
    page.fill("#id_phone", "07911 123456")
    page.fill("#id_message", "x" * 141)
    assert "Too long by 1" in page.inner_text("#message-counter")
    page.get_by_role("button", name="Send SMS").click()
    assert "Start with + and the country code" in page.inner_text("#phone-error")
    assert "at most 140 characters" in page.inner_text("#message-error")
    assert not Order.objects.exists()


def test_cancel_after_two_minutes_ends_refunded(shop, page, settings):
    settings.CANCEL_AFTER_SECONDS = 3  # "2 minutes", shortened on both sides
    settings.SANDBOX_CANCEL_AFTER = 3
    page.goto(shop + "/")
    choose(page, 999, "nocode")  # the sandbox's "code never arrives"
    page.get_by_role("button", name="Order number").click()
    page.wait_for_selector(".qr-svg")
    page.click("text=Pay with the sandbox wallet")
    page.wait_for_selector("[data-number]")
    cancel = page.locator("button:has-text('Cancel and return my payment')")
    assert cancel.is_disabled()
    assert "available in" in page.inner_text(".cancel-form")
    page.wait_for_selector("button:has-text('Cancel and return my payment'):not([disabled])", timeout=15_000)
    page.click("button:has-text('Cancel and return my payment')")
    page.wait_for_selector(".status-refund", timeout=30_000)
    text = page.inner_text("#order-status")
    assert "Refunded" in text and "Nothing was charged." in text
    order = the_order(kind=Kind.RECEIVE)
    assert order.status == Status.REFUNDED and order.refund_reason == RefundReason.CANCELED


def test_unpaid_invoice_expires(shop, page, settings):
    settings.SANDBOX_INVOICE_EXPIRY = 4
    page.goto(shop + "/")
    choose(page, 43, "tg")
    page.get_by_role("button", name="Order number").click()
    page.wait_for_selector(".qr-svg")
    assert page.inner_text("[data-countdown]") in ("0:04", "0:03", "0:02", "0:01", "0:00")
    page.wait_for_selector("text=Invoice expired", timeout=30_000)
    assert "Nothing was charged." in page.inner_text("#order-status")
    assert the_order(kind=Kind.RECEIVE).status == Status.EXPIRED


def test_my_orders_after_a_reload(shop, page, browser):
    page.goto(shop + "/")
    choose(page, 43, "tg")
    page.get_by_role("button", name="Order number").click()
    page.wait_for_selector(".qr-svg, .spinner")
    first = page.url
    page.goto(shop + "/send/")
    page.fill("#id_phone", "+12025550143")
    page.fill("#id_message", "second order")
    page.get_by_role("button", name="Send SMS").click()
    page.wait_for_selector(".qr-svg, .spinner")
    second = page.url

    page.goto(shop + "/orders/")
    page.reload()
    links = page.eval_on_selector_all(".order-row", "rows => rows.map(r => r.href)")
    assert links == [second, first]  # newest first
    assert "SMS to +12025550143" in page.inner_text(".order-list")
    assert "Telegram · Germany" in page.inner_text(".order-list")

    other = browser.new_context().new_page()  # another browser: another session
    other.goto(shop + "/orders/")
    assert "No orders from this browser yet." in other.inner_text("main")
    other.context.close()

    # The order's address works on its own (bookmark, another device).
    page.goto(first)
    assert page.locator("#order-status").count() == 1


def test_a_final_order_already_shown_stops_polling_and_stays_on_the_page(live_server, transactional_db, page, settings):
    """The engine lets go of an expired order after the grace window; nothing the page shows changed, so the
    poll gets an empty 286 with HX-Reswap: none: htmx stops polling and swaps nothing, so the part stays."""
    from datetime import timedelta

    from django.utils import timezone

    from orders import lifecycle

    settings.STATUS_POLL_SECONDS = 0.3
    long_ago = timezone.now() - timedelta(hours=1)
    order = make_order(
        Status.EXPIRED,
        invoice_expires_at=long_ago,
        next_poll_at=timezone.now(),  # still watched: a late payment would show
    )
    answers = []
    page.on("response", lambda r: answers.append(r.status) if r.url.endswith("/status") else None)
    page.goto(live_server.url + order.get_absolute_url())
    page.wait_for_selector("text=Invoice expired")

    def wait_for(status):
        for _ in range(100):
            if status in answers:
                return True
            page.wait_for_timeout(100)
        return False

    assert wait_for(204)
    lifecycle.schedule_next_polls([order])  # the grace window is over
    assert order.next_poll_at is None
    assert wait_for(286)
    polls = len(answers)
    page.wait_for_timeout(1500)
    assert len(answers) == polls, "polling stopped"
    assert page.locator("#order-status").is_visible()
    assert "Invoice expired" in page.inner_text("#order-status")


def test_rent_pay_number_and_two_sms_appear_without_a_reload(shop, page, settings):
    settings.SANDBOX_CODE_DELAY = 1
    settings.SANDBOX_RENTAL_SMS_INTERVAL = 3  # longer than a poll gap: every SMS is seen
    settings.SANDBOX_RENTAL_SMS_COUNT = 2
    page.goto(shop + "/rent/")
    page.locator("input[name=country]").first.check()
    page.get_by_role("button", name="Rent number").click()
    page.wait_for_selector(".qr-svg")
    page.evaluate("window.__sameDocument = 'yes'")
    page.click("text=Pay with the sandbox wallet")
    page.wait_for_selector("[data-number]")
    first = page.wait_for_selector(".inbox-entry .inbox-code").inner_text()
    page.locator(".inbox-entry").nth(1).wait_for(timeout=30000)
    codes = page.locator(".inbox-entry .inbox-code").all_inner_texts()
    assert len(codes) == 2 and codes[1] == first and codes[0] != first  # the newest on top, the first kept
    assert "Your rented number" in page.inner_text("#order-status")
    assert page.locator("text=Cancel and return my payment").count() == 0
    assert page.evaluate("window.__sameDocument") == "yes"
    order = the_order(kind=Kind.RENTAL)
    assert order.status == Status.ACTIVE and order.sms_count == 2
