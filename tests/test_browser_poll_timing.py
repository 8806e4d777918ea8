"""When an open order page polls, in real Chromium: just after the engine's next look at sms4sats for the order
(the answers' X-Poll-In, kept by shop.js), once per period, not htmx's own clock as well; without shop.js, htmx's
"every" still polls.

Run: bin/with_redis.py .venv/bin/pytest -m browser tests/test_browser_poll_timing.py
"""

import time

import pytest

from orders import status_cache
from orders.models import Status
from tests.factories import make_order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def poll_moments(page, seconds):
    """The epoch moments at which the page sent its status polls over ``seconds``."""
    moments = []
    page.on("request", lambda request: moments.append(time.time()) if request.url.endswith("/status") else None)
    page.wait_for_timeout(seconds * 1000)
    return moments


def test_the_page_polls_just_after_the_engines_next_look(live_server, new_page):
    order = make_order(Status.WAITING_CODE, number="+15550001234")
    page = new_page()
    with page.expect_request(lambda request: request.url.endswith("/status"), timeout=10_000):
        page.goto(live_server.url + order.get_absolute_url())  # until htmx's first 2 s tick polls
    # The engine looks every POLL_FAST_SECONDS (2 s); say its last answer was applied so that the server's moments
    # (a quarter second after each look) fall half a period away from htmx's own ticks.
    asked_at = time.time() - 1.25
    status_cache.note_asked([order.public_id], asked_at)
    moments = poll_moments(page, 7)
    assert 3 <= len(moments) <= 4, moments  # one per 2 s: htmx's ticks are held back
    # After an answer that knew the look (the first may not have), each poll comes NEXT_LOOK_MARGIN after one.
    for moment in moments[1:]:
        after_look = (moment - asked_at - status_cache.NEXT_LOOK_MARGIN) % 2
        assert min(after_look, 2 - after_look) < 0.5, (moment - asked_at, moments)


def test_without_shop_js_htmx_polls_on_its_own(live_server, new_page):
    order = make_order(Status.WAITING_CODE, number="+15550001234")
    page = new_page()
    page.route("**/shop*.js", lambda route: route.abort())
    page.goto(live_server.url + order.get_absolute_url())
    moments = poll_moments(page, 5)
    assert 2 <= len(moments) <= 3, moments  # htmx's "every 2000ms"
    order.status, order.code = Status.COMPLETED, "424242"
    order.save()
    status_cache.remember(order)
    page.wait_for_selector("[data-code]", state="attached", timeout=5_000)
