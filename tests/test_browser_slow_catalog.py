"""A slow sms4sats in a real browser: a country's service list says so at once (the page does not wait for the
read), asks again by itself, and fills in when the read it started has landed; in the buyer's language.

Run: bin/with_redis.py .venv/bin/pytest -m browser tests/test_browser_slow_catalog.py
"""

import pytest
from playwright.sync_api import expect

from orders import catalog
from tests.browser import shoot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(
    ("locale", "lang", "slow", "again"),
    [
        ("en-US", "en", "sms4sats is slow to answer right now.", "Asking it again in a few seconds"),
        ("ru-RU", "ru", "sms4sats сейчас отвечает медленно.", "Повторный запрос через несколько секунд"),
    ],
)
def test_a_slow_service_list_asks_again_by_itself_and_fills_in(
    upstream, page_budget, live_server, new_page, locale, lang, slow, again
):
    page = new_page(locale=locale, viewport={"width": 390, "height": 844})
    page.goto(live_server.url + "/")
    page.wait_for_selector("#id_service option[value=tg]", state="attached")  # Auto-Select's list, read at once
    upstream.delay = 2 * catalog.REQUEST_WAIT_BUDGET + 0.2  # every read now takes longer than a page waits
    with page.expect_response(lambda r: "/catalog/services" in r.url) as first:
        page.select_option("#id_country", "43")
    assert first.value.request.timing["responseEnd"] < 1000 * (catalog.REQUEST_WAIT_BUDGET + 0.4)  # not the read
    field = page.locator("#service-field")
    expect(field).to_contain_text(slow)  # htmx swaps it in just after the response
    assert again in field.inner_text()
    assert page.locator("#id_service").is_disabled()
    assert "minute" not in field.inner_text() and "минуту" not in field.inner_text()  # no "try again later" too
    shoot(page, f"services-slow-{lang}")
    # Three seconds later the list asks again; the read it started long ago filled the cache.
    page.wait_for_selector("#id_service option[value=ds]", state="attached", timeout=10_000)
    assert again not in field.inner_text() and page.locator("#id_service").is_enabled()
    shoot(page, f"services-back-{lang}")
