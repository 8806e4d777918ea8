"""Issue #25 in a real browser: the rental invoice's true terms, fiat leaving a finished order without a reload,
the chosen country and service kept across a currency change, and order forms off during an sms4sats outage that
come back by themselves.

Run: bin/with_redis.py .venv/bin/pytest tests/test_browser_buyer_truth.py (SHOTS_DIR=… saves the screenshots)."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from orders import fiat
from orders.sms4sats import UpstreamUnavailable, get_client, upstream_health
from orders.tasks import refresh_fiat_rates
from sandbox.rates import PRICES
from tests.browser import choose, shoot, wait_until
from tests.fake_upstream import unreachable_url
from tests.test_browser_accessibility import axe_violations, open_context

pytestmark = pytest.mark.browser


@pytest.fixture
def rates(shop, settings):
    settings.FIAT_RATES_URL = shop + settings.FIAT_RATES_PATH
    refresh_fiat_rates.delay()  # the real worker fetches the sandbox's ticker over HTTP
    assert wait_until(lambda: fiat.current_rates().get("USD") == Decimal(PRICES["USD"][0]), 15)
    return shop


def text_of(page, selector):
    return " ".join(page.inner_text(selector).split())


def test_the_rental_invoice_promises_only_what_is_true(shop, page):
    page.goto(shop + "/rent/")
    page.locator("input[name=country]").first.check()
    page.get_by_role("button", name="Rent number").click()
    page.wait_for_selector(".qr-svg")
    note = text_of(page, ".hold-note")
    assert "They return to you automatically only if sms4sats gives no number." in note
    assert "Once the number is given, a rental is not refundable, even if no SMS arrives." in note
    assert "code arrives" not in text_of(page, "main")
    shoot(page, "rental-invoice")


def test_fiat_leaves_a_finished_order_without_a_reload(rates, page):
    page.goto(rates + "/")
    choose(page, 43, "tg")
    page.get_by_role("button", name="Order number").click()
    page.wait_for_selector(".qr-svg")
    assert "USD" in page.inner_text("#order-fiat")
    page.evaluate("window.__sameDocument = 'yes'")
    page.click("text=Pay with the sandbox wallet")
    page.wait_for_selector("[data-code]", timeout=30000)
    page.wait_for_selector("#order-fiat", state="detached", timeout=10000)
    assert "USD" not in page.inner_text("main")
    assert page.evaluate("window.__sameDocument") == "yes"  # no reload


def test_a_currency_change_keeps_the_chosen_country_and_service(rates, page):
    page.goto(rates + "/")
    choose(page, 43, "tg")
    assert re.search(r"/\?country=43&service=tg$", page.url)  # the address follows the choice
    page.locator("#price-box").get_by_role("link", name="USD: change the currency").click()
    page.select_option("#id_currency", "EUR")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/\?country=43&service=tg$"))
    assert page.input_value("#id_country") == "43" and page.input_value("#id_service") == "tg"
    assert "EUR" in page.inner_text("#price-box")
    # The language too.
    page.select_option("#language-select", "de")
    page.locator(".language-form button").click()
    page.wait_for_url(re.compile(r"/\?country=43&service=tg$"))
    assert page.input_value("#id_country") == "43" and page.input_value("#id_service") == "tg"


def test_order_forms_are_off_during_an_outage_and_come_back_by_themselves(shop, browser, settings):
    context = open_context(browser, 390, "light")  # with axe-core, outside the page's CSP
    page = context.new_page()
    settings.SMS4SATS_API_URL = unreachable_url()  # sms4sats stops answering
    for _ in range(settings.UPSTREAM_DOWN_AFTER_FAILURES):
        with pytest.raises(UpstreamUnavailable):
            get_client().countries()
    assert upstream_health.is_down()
    try:
        page.goto(shop + "/send/")
        button = page.get_by_role("button", name="Send SMS")
        assert button.is_disabled()
        notice = text_of(page, ".order-form .notice")
        assert "sms4sats is not answering right now (last checked at" in notice
        assert "this form comes back by itself" in notice
        shoot(page, "send-paused")
        assert axe_violations(page) == []
        page.fill("#id_phone", "+447911123456")
        # sms4sats answers again: the next call says so, and the form comes back without the buyer doing anything.
        settings.SMS4SATS_API_URL = shop + settings.SANDBOX_API_PATH
        upstream_health._last_clean["at"] = 0.0
        get_client().countries()
        assert not upstream_health.is_down()
        # The paused form asks every 5 s; the catalog's rest after its failed read ends with sms4sats' answer.
        expect(page.get_by_role("button", name="Send SMS")).to_be_enabled(timeout=15000)
        assert "not answering" not in page.inner_text("main")
        shoot(page, "send-back")
    finally:
        context.close()
        upstream_health._last_clean["at"] = 0.0
        upstream_health.record(True)
        upstream_health.take_recovery()
