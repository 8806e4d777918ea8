"""The live order page for keyboard and screen-reader users, in Chromium with the whole stack: after each
new state, focus is on its heading (or, when the buyer is elsewhere on the page, the heading is announced);
the tab title follows the state; a form sent back with errors puts focus on the first one.

Run: bin/with_redis.py .venv/bin/pytest -m browser tests/test_browser_live_status.py
"""

import pytest

from tests.browser import choose

pytestmark = pytest.mark.browser

TITLE = " · SMS for sats"


def wait_js(page, expression, timeout=30):
    """Poll ``expression`` from here: page.wait_for_function would evaluate strings in the page, which its
    CSP (no unsafe-eval) forbids."""
    for _ in range(int(timeout * 10)):
        if page.evaluate(expression):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"never true: {expression}")


def focused(page):
    return page.evaluate("(document.activeElement.className || '') + ' | ' + document.activeElement.textContent.trim()")


def test_focus_title_and_announcements_follow_the_order(shop, page, settings):
    settings.SANDBOX_CODE_DELAY = 5  # time to look around while the number is shown
    page.goto(shop + "/")
    choose(page, 43, "tg")
    page.get_by_role("button", name="Order number").click()
    page.wait_for_selector(".qr-svg")
    wait_js(page, f"document.title === 'Number order · Waiting for payment{TITLE}'")

    page.click("text=Pay with the sandbox wallet")  # focus is in the status part
    page.wait_for_selector("[data-number]")
    wait_js(page, f"document.title === 'Number order · Waiting for the code{TITLE}'")
    assert focused(page).startswith("status-title | ")  # not lost to <body>
    assert "Waiting for the SMS code" in focused(page)
    page.keyboard.press("Tab")
    assert focused(page) == "btn btn-small | Copy number"  # the next Tab goes on from the new state

    # Elsewhere on the page, focus stays where it is and the new state is announced instead.
    page.focus("button:has-text('Copy link to this order')")
    page.wait_for_selector("[data-code]", timeout=30_000)
    wait_js(page, f"document.title === 'Number order · Code received{TITLE}'")
    assert focused(page).endswith("| Copy link to this order")
    wait_js(page, "document.getElementById('announcer').textContent === 'Your code'")


def test_the_invoice_countdown_announces_the_last_minute_once(shop, page, settings):
    settings.SANDBOX_INVOICE_EXPIRY = 70
    page.goto(shop + "/")
    choose(page, 43, "tg")
    page.get_by_role("button", name="Order number").click()
    page.wait_for_selector(".qr-svg")
    minutes, seconds = page.inner_text("[data-countdown]").split(":")
    if int(minutes) * 60 + int(seconds) > 61:  # (on a busy machine the page may open in the last minute)
        assert page.inner_text("#announcer") == ""
    wait_js(
        page, "document.getElementById('announcer').textContent === 'One minute left to pay this invoice.'", timeout=20
    )
    assert page.locator("[data-countdown][data-announced]").count() == 1


def test_a_form_with_errors_puts_focus_on_the_first_one(shop, page):
    page.goto(shop + "/send/")
    page.fill("#id_phone", "07911 123456")
    page.fill("#id_message", "hello")
    page.get_by_role("button", name="Send SMS").click()
    page.wait_for_selector("#phone-error")
    assert page.evaluate("document.activeElement.id") == "id_phone"
    assert page.get_attribute("#id_phone", "aria-describedby") == "phone-help phone-error"  # read with the field

    page.goto(shop + "/")
    with page.expect_response(lambda r: "/catalog/services" in r.url):
        page.select_option("#id_country", "43")
    page.get_by_role("button", name="Order number").click()  # no service chosen
    page.wait_for_selector("#service-error")
    assert page.evaluate("document.activeElement.id") == "id_service"
