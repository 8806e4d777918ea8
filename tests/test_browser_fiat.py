"""The fiat equivalent in a real browser on a phone-sized screen: the worker fetches the sandbox's ticker, the
price and the invoice show "≈ … USD" after the sats, and the buyer switches to EUR and comes back.

Run: bin/with_redis.py .venv/bin/pytest tests/test_browser_fiat.py (SHOTS_DIR=… saves the screenshots)."""

import re
import time
from decimal import Decimal

import pytest

from orders import fiat
from orders.models import Kind
from orders.tasks import refresh_fiat_rates
from sandbox.rates import PRICES
from tests.browser import choose, shoot, the_order, wait_until

pytestmark = pytest.mark.browser


def visible_fiat(locator):
    """The fiat equivalent as the eye reads it ("≈ 2.10 USD"): without the words for screen readers."""
    return " ".join(
        locator.evaluate(
            "e => { const c = e.cloneNode(true); c.querySelector('.visually-hidden').remove(); return c.textContent; }"
        ).split()
    )  # noqa: E501


def expected(sats, currency):
    return f"≈ {fiat.equivalent(sats, Decimal(PRICES[currency][0]), currency)[0]} {currency}"


def assert_beside_the_sats(page, sats_selector, fiat_selector):
    sats, eq = page.locator(sats_selector).bounding_box(), page.locator(fiat_selector).bounding_box()
    assert eq["x"] >= sats["x"] + sats["width"] or eq["y"] >= sats["y"]  # after the sats: to the right or below
    assert eq["x"] + eq["width"] <= 390  # nothing clipped at the screen's edge
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling


def test_the_price_and_the_invoice_show_fiat_after_the_sats(shop, page, settings):
    settings.FIAT_RATES_URL = shop + settings.FIAT_RATES_PATH
    refresh_fiat_rates.delay()  # the real worker fetches the sandbox's ticker over HTTP
    assert wait_until(lambda: fiat.current_rates().get("USD") == Decimal(PRICES["USD"][0]), 15)
    page.set_viewport_size({"width": 390, "height": 844})

    page.goto(shop + "/")
    choose(page, 43, "tg")
    price = int(page.inner_text("#price-box .price-amount").replace(",", ""))
    assert visible_fiat(page.locator("#price-box .fiat")) == expected(price, "USD")
    assert_beside_the_sats(page, "#price-box .price-unit", "#price-box .fiat")
    shoot(page, "fiat-price")

    page.get_by_role("button", name="Order number").click()
    page.wait_for_selector(".qr-svg")
    order = the_order(kind=Kind.RECEIVE)
    assert visible_fiat(page.locator(".amount .fiat")) == expected(order.invoice_sats, "USD")
    assert_beside_the_sats(page, ".amount .amount-unit", ".amount .fiat")
    shoot(page, "fiat-invoice")

    # The currency code is the way to change it: a plain form, and back to the order.
    page.get_by_role("link", name="USD: change the currency").first.click()
    page.select_option("#id_currency", "EUR")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(re.escape(order.get_absolute_url()) + "$"))
    page.wait_for_selector(".qr-svg")
    assert visible_fiat(page.locator(".amount .fiat")) == expected(order.invoice_sats, "EUR")
    page.goto(shop + "/send/")
    assert "EUR" in page.inner_text(".price .fiat")  # remembered
    page.goto(shop + "/rent/")
    assert "EUR" in page.inner_text(".choice-price .fiat")
    assert_beside_the_sats(page, ".choice-price >> nth=0", ".choice-price .fiat >> nth=0")
    shoot(page, "fiat-rent")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_violation_in_the_fiat_amounts_and_the_currency_page(browser, sandbox_url, live_server, scheme):
    from django.core.cache import cache

    from tests.factories import make_order_in_germany
    from tests.test_browser_accessibility import axe_violations, open_context

    cache.set(fiat.CACHE_KEY, {"fetched_at": time.time(), "rates": {"USD": "100000", "EUR": "90000"}})
    order = make_order_in_germany()
    context = open_context(browser, 390, scheme)
    page = context.new_page()
    try:
        for path in ("/send/", "/rent/", order.get_absolute_url(), "/currency/?next=/send/"):
            page.goto(live_server.url + path)
            if path != "/currency/?next=/send/":
                # On a loaded machine the catalog's first read can outlast a page's wait for it (the page then
                # says the list cannot be shown right now); the read goes on and the next visit has it.
                for _ in range(20):
                    if page.locator(".fiat").count() or path != "/rent/":
                        break
                    page.wait_for_timeout(250)
                    page.reload()
                assert page.locator(".fiat").count() > 0, path
            assert axe_violations(page) == [], path
    finally:
        context.close()
