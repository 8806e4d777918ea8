"""Abuse limits: the admin login is throttled against password guessing; the order-creation limits count
the real client behind a proxy; the webhook and status endpoints do not tell which order ids exist.

(The order-creation limits themselves are crossed in tests/test_views_ratelimit.py.)"""

import hashlib
import re
import uuid

import pytest
import yaml
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client, RequestFactory

from orders.models import Kind, Status
from sms4sats_site.client_address import KeyedSha256, client_ip
from tests.factories import make_order

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


@pytest.fixture
def staff(db):
    return User.objects.create_superuser("boss", "boss@example.com", PASSWORD)


def login(client, username, password):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password})


def test_admin_login_locks_after_five_failures_per_address_and_name(staff):
    guesser = Client(REMOTE_ADDR="203.0.113.7")
    for attempt in range(5):
        response = login(guesser, "boss", f"guess-{attempt}")
        assert response.status_code == 200
        assert "Please enter the correct username and password" in response.content.decode()
    # Locked: even the right password is not checked now, and the answer says so in words.
    response = login(guesser, "boss", PASSWORD)
    assert response.status_code == 429
    html = response.content.decode()
    assert "Too many failed login attempts" in html
    assert re.search(r"try again in (1 minute|([2-9]|1[0-5]) minutes)\.", html)
    assert 0 < int(response["Retry-After"]) <= 15 * 60
    assert "_auth_user_id" not in guesser.session
    # The login page itself still renders (GET), and the lock is per address + name.
    assert guesser.get("/admin/login/").status_code == 200
    other_address = Client(REMOTE_ADDR="203.0.113.8")
    assert login(other_address, "boss", PASSWORD).status_code == 302
    assert login(Client(REMOTE_ADDR="203.0.113.7"), "someone-else", "x").status_code == 200


def test_the_lock_is_case_insensitive_on_the_name(staff):
    guesser = Client(REMOTE_ADDR="203.0.113.9")
    for name in ("boss", "BOSS", "Boss", " boss", "bOss"):
        login(guesser, name, "wrong")
    assert login(guesser, "boss", PASSWORD).status_code == 429


def test_spraying_many_names_from_one_address_is_locked_too(staff, settings):
    settings.ADMIN_LOGIN_FAILURES_PER_IP = 8
    sprayer = Client(REMOTE_ADDR="198.51.100.4")
    codes = [login(sprayer, f"user{i}", "password").status_code for i in range(10)]
    assert codes == [200] * 8 + [429] * 2
    assert login(sprayer, "boss", PASSWORD).status_code == 429
    assert login(Client(REMOTE_ADDR="198.51.100.5"), "boss", PASSWORD).status_code == 302


def test_successful_logins_are_not_counted(staff):
    for _ in range(7):
        browser = Client(REMOTE_ADDR="192.0.2.10")
        assert login(browser, "boss", PASSWORD).status_code == 302


def test_the_lock_ends_with_its_window(staff, settings, monkeypatch):
    # The throttle's windows are fixed slots of the clock (django-ratelimit): on a real clock the failures could
    # straddle the end of one and never lock (seen in CI). A clock that stands still, then jumps past the window.
    import time

    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now)
    settings.ADMIN_LOGIN_WINDOW_SECONDS = 60
    guesser = Client(REMOTE_ADDR="203.0.113.20")
    for _ in range(5):
        login(guesser, "boss", "wrong")
    assert login(guesser, "boss", PASSWORD).status_code == 429
    monkeypatch.setattr(time, "time", lambda: now + 61)
    assert login(guesser, "boss", PASSWORD).status_code == 302


def test_rate_limit_keys_hold_no_address(staff, settings):
    login(Client(REMOTE_ADDR="203.0.113.77"), "boss", "wrong")
    client = cache._cache.get_client(write=False)
    keys = [key.decode() for key in client.keys(f"{settings.CACHE_KEY_PREFIX}:*")]
    assert keys, "the failure was counted"
    assert not any("203.0.113.77" in key or "boss" in key for key in keys)
    # The hash is keyed with SECRET_KEY: trying every address against a plain SHA-256 finds nothing.
    assert KeyedSha256(b"203.0.113.77").hexdigest() != hashlib.sha256(b"203.0.113.77").hexdigest()
    ttls = [client.ttl(key) for key in keys if ":rl:" in key]
    assert ttls and all(0 < ttl <= settings.ADMIN_LOGIN_WINDOW_SECONDS + 60 for ttl in ttls)  # gone with the window


# The address a limit counts -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "remote, forwarded, expected",
    [
        ("203.0.113.5", "", "203.0.113.5"),
        # No proxy is trusted by default: the header is the client's own word, whoever connects.
        ("203.0.113.5", "10.1.1.1", "203.0.113.5"),
        ("127.0.0.1", "198.51.100.3", "127.0.0.1"),
        ("172.18.0.1", "1.2.3.4, 198.51.100.3", "172.18.0.1"),
        ("::ffff:203.0.113.9", "", "203.0.113.9"),
        ("", "198.51.100.3", "0.0.0.0"),
    ],
)
def test_client_ip_trusts_no_forwarded_header_by_default(remote, forwarded, expected):
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


@pytest.mark.parametrize(
    "remote, forwarded, expected",
    [
        ("127.0.0.1", "198.51.100.3", "198.51.100.3"),  # behind the trusted proxy: the client it saw
        ("172.18.0.1", "1.2.3.4, 198.51.100.3", "198.51.100.3"),  # only the proxy's own entry counts
        ("172.18.0.1", "198.51.100.3:4711", "198.51.100.3"),
        ("127.0.0.1", "1.2.3.4, 198.51.100.3, 10.0.0.7", "198.51.100.3"),  # a second trusted proxy is skipped
        ("127.0.0.1", "not-an-ip", "127.0.0.1"),  # nothing usable: the proxy's own bucket
        ("127.0.0.1", "", "127.0.0.1"),
        ("::1", "2001:db8::1", "2001:db8::1"),
        ("203.0.113.5", "10.1.1.1", "203.0.113.5"),  # a client that is not a trusted proxy cannot pick
        ("192.168.1.20", "198.51.100.3", "192.168.1.20"),  # private, but not one of the listed proxies
    ],
)
def test_client_ip_behind_trusted_proxies(remote, forwarded, expected, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1", "::1", "172.16.0.0/12", "10.0.0.0/8"]
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_order_limit_counts_each_client_behind_the_proxy(upstream, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    settings.ORDER_RATE_PER_SESSION = "100/h"
    settings.ORDER_RATE_PER_IP = "2/h"

    def post(client_address):
        proxied = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=client_address)
        return proxied.post("/rent/", {"country": 6}).status_code

    assert [post("198.51.100.1") for _ in range(3)] == [302, 302, 429]
    assert post("198.51.100.2") == 302  # another buyer behind the same proxy is not affected


def test_a_spoofed_header_picks_no_order_bucket_without_trusted_proxies(upstream, settings):
    """A plain proxy_pass forwarding the client's own header (or a client reaching the shop directly):
    a fresh address in each request's header still lands in the connection's one bucket."""
    settings.ORDER_RATE_PER_SESSION = "100/h"
    settings.ORDER_RATE_PER_IP = "2/h"
    codes = [
        Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").post("/rent/", {"country": 6})
        for i in range(4)
    ]
    assert [response.status_code for response in codes] == [302, 302, 429, 429]


def test_a_spoofed_header_does_not_reset_the_login_lock(staff, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.1"]  # a proxy, but not the one this guesser connects from
    codes = [
        login(Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}"), "boss", "wrong").status_code
        for i in range(6)
    ]
    assert codes == [200] * 5 + [429]


def test_the_login_lock_follows_the_client_behind_a_trusted_proxy(staff, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    guesser = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.50")
    for _ in range(5):
        assert login(guesser, "boss", "wrong").status_code == 200
    assert login(guesser, "boss", PASSWORD).status_code == 429
    # The operator, behind the same proxy, is not locked out by someone else's guesses.
    operator = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.60")
    assert login(operator, "boss", PASSWORD).status_code == 302


# Redis down ---------------------------------------------------------------------------------------------


def test_login_throttle_fails_open_while_redis_is_down(staff, settings, redis_down, caplog):
    """Fail open: the operator can still log in (and wrong passwords are still refused) during an outage."""
    guesser = Client(REMOTE_ADDR="203.0.113.70")
    for _ in range(6):
        response = login(guesser, "boss", "wrong")
        assert response.status_code == 200
        assert "Please enter the correct username and password" in response.content.decode()
    assert login(guesser, "boss", PASSWORD).status_code == 302
    assert "admin login throttle off: Redis did not answer" in caplog.text


# Nothing tells which order ids exist -------------------------------------------------------------------


def test_webhook_answers_alike_for_wrong_secret_unknown_order_and_wrong_kind(client):
    send = make_order(Status.HELD, kind=Kind.SEND)
    receive = make_order(Status.WAITING_CODE)
    answers = [
        client.post(f"/hooks/send/{send.public_id}/wrong-secret"),
        client.post(f"/hooks/send/{uuid.uuid4()}/wrong-secret"),
        client.post(f"/hooks/send/{uuid.uuid4()}/{send.webhook_secret}"),
        client.post(f"/hooks/send/{receive.public_id}/{receive.webhook_secret}"),
        client.post(f"/hooks/send/{send.public_id}/{send.webhook_secret[:-1]}"),
    ]
    assert {r.status_code for r in answers} == {404}
    assert len({r.content for r in answers}) == 1
    assert len({r.get("Content-Type") for r in answers}) == 1
    # A GET is refused before any lookup, whatever the id.
    assert client.get(f"/hooks/send/{send.public_id}/{send.webhook_secret}").status_code == 405
    assert client.get(f"/hooks/send/{uuid.uuid4()}/x").status_code == 405
    assert client.post(f"/hooks/send/{send.public_id}/{send.webhook_secret}").status_code == 204


def test_status_and_order_pages_answer_alike_for_unknown_and_hidden_orders(client):
    fund = make_order(Status.UNPAID, kind=Kind.FUND)  # the operator's: not public
    for suffix in ("", "status"):
        answers = [
            client.get(f"/o/{uuid.uuid4()}/{suffix}"),
            client.get(f"/o/{fund.public_id}/{suffix}"),
            client.get(f"/o/not-a-uuid/{suffix}"),
        ]
        assert {r.status_code for r in answers} == {404}
        assert len({r.content for r in answers}) == 1
    answers = [client.post(f"/o/{uuid.uuid4()}/cancel"), client.post(f"/o/{fund.public_id}/cancel")]
    assert {r.status_code for r in answers} == {404}
    assert len({r.content for r in answers}) == 1


def compose_trusted_proxies():
    """TRUSTED_PROXIES as docker-compose.yml sets it by default, and the subnet of its proxy's network."""
    from tests.test_compose import COMPOSE, SAMPLE_DOTENV, environment, interpolate

    compose = yaml.safe_load(COMPOSE.read_text())
    trusted = interpolate(environment(compose["services"]["web"])["TRUSTED_PROXIES"], SAMPLE_DOTENV)
    # The network the proxy shares with web (the proxy is also on the tor service's own network).
    [network] = set(compose["services"]["proxy"]["networks"]) & set(compose["services"]["web"]["networks"])
    [subnet] = [interpolate(c["subnet"], SAMPLE_DOTENV) for c in compose["networks"][network]["ipam"]["config"]]
    return [entry.strip() for entry in trusted.split(",")], subnet


def test_compose_trusts_only_the_proxys_own_network():
    trusted, subnet = compose_trusted_proxies()
    assert trusted == [subnet]


@pytest.mark.parametrize(
    "remote, forwarded",
    [
        ("172.29.86.2", "203.0.113.99, 192.168.1.20"),  # through the proxy, naming another address first
        ("192.168.1.20", "203.0.113.99"),  # straight to web, were it reachable
        ("172.17.0.5", "203.0.113.99"),  # another container on the host
    ],
)
def test_a_lan_client_cannot_pick_its_bucket_with_the_compose_default(remote, forwarded, settings):
    settings.TRUSTED_PROXIES = compose_trusted_proxies()[0]
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) != "203.0.113.99"
    assert client_ip(request) == (remote if remote != "172.29.86.2" else "192.168.1.20")
