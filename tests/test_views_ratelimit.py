"""Order creation is rate-limited per client address and per session (Redis); over it, a friendly 429."""

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from orders.models import Order

pytestmark = pytest.mark.django_db


def test_per_session_limit(client, upstream, settings):
    settings.ORDER_RATE_PER_SESSION = "3/h"
    settings.ORDER_RATE_PER_IP = "100/h"
    for _ in range(3):
        assert client.post("/", {"country": 43, "service": "tg"}).status_code == 302
    response = client.post("/send/", {"phone": "+447911123456", "message": "hi"})
    assert response.status_code == 429
    html = response.content.decode()
    assert "Slow down a little" in html and "wait a minute" in html
    assert response["Retry-After"] == "60"
    assert Order.objects.count() == 3
    # Another browser (session) on a different address is not affected.
    assert Client(REMOTE_ADDR="10.0.0.2").post("/", {"country": 43, "service": "tg"}).status_code == 302


def test_per_address_limit_across_sessions(upstream, settings):
    settings.ORDER_RATE_PER_SESSION = "100/h"
    settings.ORDER_RATE_PER_IP = "4/h"
    codes = [Client(REMOTE_ADDR="10.0.0.9").post("/rent/", {"country": 6}).status_code for _ in range(6)]
    assert codes == [302] * 4 + [429] * 2
    assert Client(REMOTE_ADDR="10.0.0.10").post("/rent/", {"country": 6}).status_code == 302


def test_default_limits_are_crossed(client, upstream):
    codes = [client.post("/", {"country": 43, "service": "tg"}).status_code for _ in range(7)]
    assert 429 in codes and codes[0] == 302


def test_invalid_forms_do_not_count(client, upstream, settings):
    settings.ORDER_RATE_PER_SESSION = "2/h"
    settings.ORDER_RATE_PER_IP = "2/h"
    for _ in range(5):
        assert client.post("/send/", {"phone": "12", "message": "hi"}).status_code == 200  # invalid: shown again
        assert client.post("/", {"country": "junk"}).status_code == 200
    assert client.post("/", {"country": 43, "service": "tg"}).status_code == 302
    assert client.post("/", {"country": 43, "service": "tg"}).status_code == 302
    assert client.post("/", {"country": 43, "service": "tg"}).status_code == 429
    assert Order.objects.count() == 2


def test_refused_orders_do_not_count(upstream, settings):
    """One browser over its session limit does not use up its address's orders for the others there."""
    settings.ORDER_RATE_PER_SESSION = "1/h"
    settings.ORDER_RATE_PER_IP = "3/h"
    eager = Client(REMOTE_ADDR="10.0.0.20")
    codes = [eager.post("/rent/", {"country": 6}).status_code for _ in range(5)]
    assert codes == [302] + [429] * 4
    neighbours = [Client(REMOTE_ADDR="10.0.0.20").post("/rent/", {"country": 6}).status_code for _ in range(3)]
    assert neighbours == [302, 302, 429]


def test_a_session_is_written_only_for_a_placed_order(upstream, settings):
    # An hour's window: a minute's could end between the first order and the refused ones (a flaky 302).
    settings.ORDER_RATE_PER_IP = "1/h"
    assert Client(REMOTE_ADDR="10.0.0.30").post("/", {"country": "junk"}).status_code == 200
    assert Client(REMOTE_ADDR="10.0.0.30").post("/send/", {"phone": "x", "message": ""}).status_code == 200
    assert Session.objects.count() == 0
    buyer = Client(REMOTE_ADDR="10.0.0.30")
    assert buyer.post("/rent/", {"country": 6}).status_code == 302
    assert Session.objects.count() == 1
    # Refused: no session row, however many times a cookie-less client tries.
    for _ in range(20):
        assert Client(REMOTE_ADDR="10.0.0.30").post("/rent/", {"country": 6}).status_code == 429
    assert Session.objects.count() == 1
    # The buyer's order is theirs: "my orders" finds it through the session made for it.
    assert Order.objects.get().session_key == buyer.session.session_key


def test_expired_sessions_are_cleared_on_a_schedule(settings):
    from django.contrib.sessions.backends.db import SessionStore

    from orders.tasks import clear_expired_sessions

    live, stale = SessionStore(), SessionStore()
    live["buyer"] = stale["buyer"] = True
    live.create()
    stale.set_expiry(-60)
    stale.create()
    assert Session.objects.count() == 2
    clear_expired_sessions()
    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]
    schedule = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "orders.tasks.clear_expired_sessions" in schedule


# Redis down: orders are paused, calmly --------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, data",
    [
        ("/", {"country": 43, "service": "tg"}),
        ("/send/", {"phone": "+447911123456", "message": "hi"}),
        ("/rent/", {"country": 6}),
    ],
)
def test_orders_are_paused_while_redis_is_down(client, upstream, redis_down, url, data):
    response = client.post(url, data)
    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    html = response.content.decode()
    assert "Orders are paused" in html and "Nothing was ordered and no money moved" in html
    assert 'href="/orders/"' in html and 'href="/send/"' in html  # the site's navigation is there
    assert "Traceback" not in html and "Redis" not in html and "Error" not in html
    assert Order.objects.count() == 0
    assert Session.objects.count() == 0
    # An invalid form is still answered with its messages (nothing to count).
    assert client.post("/send/", {"phone": "12", "message": "hi"}).status_code == 200
