"""Order creation is rate-limited per client address and per session (Redis); over it, a friendly 429."""

import pytest
from django.test import Client

from orders.models import Order
from tests.test_catalog import FakeUpstream

pytestmark = pytest.mark.django_db


@pytest.fixture
def upstream(monkeypatch):
    return FakeUpstream().install(monkeypatch)


def test_per_session_limit(client, upstream, settings):
    settings.ORDER_RATE_PER_SESSION = "3/m"
    settings.ORDER_RATE_PER_IP = "100/m"
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
    settings.ORDER_RATE_PER_SESSION = "100/m"
    settings.ORDER_RATE_PER_IP = "4/m"
    codes = [Client(REMOTE_ADDR="10.0.0.9").post("/rent/", {"country": 6}).status_code for _ in range(6)]
    assert codes == [302] * 4 + [429] * 2
    assert Client(REMOTE_ADDR="10.0.0.10").post("/rent/", {"country": 6}).status_code == 302


def test_default_limits_are_crossed(client, upstream):
    codes = [client.post("/", {"country": 43, "service": "tg"}).status_code for _ in range(7)]
    assert 429 in codes and codes[0] == 302


def test_invalid_attempts_count_too(client, upstream, settings):
    settings.ORDER_RATE_PER_SESSION = "2/m"
    client.post("/", {"country": "junk"})
    client.post("/", {"country": "junk"})
    assert client.post("/", {"country": 43, "service": "tg"}).status_code == 429
