"""The one door out (sms4sats_site/outbound.py) against real hostile servers on 127.0.0.1: every call ends by its
deadline (plus a small margin), an answer's size is capped, redirects and internal addresses are refused; and
the callers (rates, LNURL check, webhooks, the sms4sats client, ``manage.py sms4sats_check``) keep to it."""

import asyncio
import io
import socket
import time

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from orders import fiat, referral
from orders.models import Status
from orders.sms4sats import AsyncSms4satsClient, Sms4satsClient, UpstreamMalformed, UpstreamUnavailable
from sms4sats_site import outbound
from tests.factories import make_order
from tests.local_servers import HostileServer, LocalHttpServer
from webhooks import delivery as sending
from webhooks.models import Attempt, Delivery, Endpoint, EventType

DEADLINE = 1.0
MARGIN = 0.6  # the call's own overhead on a busy machine, never a peer's trickle


class Clock:
    def __enter__(self):
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc):
        self.took = time.monotonic() - self.started

    def within(self, seconds):
        return self.took < seconds + MARGIN


@pytest.fixture
def guarded(settings):
    """The production default: no local network allowed (the sandbox and tests allow 127.0.0.1)."""
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    return settings


def fake_dns(monkeypatch, answers):
    """Names resolving as ``answers`` says ({name: [address, …]}); addresses stay themselves; any other name
    does not resolve."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            try:
                return real(host, port, *args, flags=socket.AI_NUMERICHOST, **kwargs)
            except socket.gaierror:
                pass
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in answers[host]]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


# The deadline and the cap, whatever the peer does ------------------------------------------------------------


@pytest.mark.parametrize("behaviour", ["trickle-headers", "trickle-body"])
def test_a_trickling_peer_is_cut_off_at_the_deadline(behaviour):
    with HostileServer(behaviour, interval=0.3) as server, Clock() as clock:
        with pytest.raises(outbound.OutboundError, match="timed out"):
            outbound.get(server.url, timeout=DEADLINE, max_bytes=1_000_000)
    assert clock.within(DEADLINE), clock.took


def test_an_endless_body_stops_at_the_cap():
    with HostileServer("endless-body") as server, Clock() as clock:
        with pytest.raises(outbound.OutboundError, match="larger than 100000 bytes"):
            outbound.get(server.url, timeout=DEADLINE, max_bytes=100_000)
    assert clock.within(DEADLINE)


def test_an_endless_body_cut_to_a_snippet_when_asked():
    with HostileServer("endless-body") as server:
        answer = outbound.get(server.url, timeout=DEADLINE, max_bytes=300, truncate=True)
    assert answer.status_code == 200 and answer.body == b"x" * 300 and answer.truncated


def test_odd_bytes_are_an_answer_or_a_clear_error():
    with HostileServer("binary") as server:
        answer = outbound.get(server.url, timeout=DEADLINE, max_bytes=10_000)
    assert answer.status_code == 200 and len(answer.body) == 1027
    with pytest.raises(ValueError):
        answer.json()
    shown = outbound.snippet(answer.body, 50)
    assert shown.isprintable() and len(shown) <= 50
    with HostileServer("broken-chunked") as server, Clock() as clock:
        with pytest.raises(outbound.OutboundError, match="RemoteProtocolError"):
            outbound.get(server.url, timeout=DEADLINE, max_bytes=10_000)
    assert clock.within(DEADLINE)


def test_snippet_removes_control_and_bidi_characters():
    assert outbound.snippet("ok\u202e\x00\x1b[31m\nred", 100) == "ok [31m red"
    assert outbound.snippet(b"\xff" * 10, 5) == "\ufffd" * 4 + "…"


# Redirects and the address guard ------------------------------------------------------------------------------


def test_redirects_are_not_followed_unless_asked():
    with LocalHttpServer(routes={"/secret": (200, b"internal")}) as inside:
        with HostileServer("redirect", location=inside.url + "secret") as server:
            answer = outbound.get(server.url, timeout=DEADLINE, max_bytes=1000)
            assert answer.status_code == 302 and inside.gets == []
            followed = outbound.get(server.url, timeout=DEADLINE, max_bytes=1000, redirects=2)
            assert followed.body == b"internal"  # loopback allowed (the sandbox default), so followed


@pytest.mark.parametrize("location", ["http://169.254.169.254/latest/meta-data/", "http://[::1]:{port}/secret"])
def test_a_redirect_to_an_internal_address_is_refused(guarded, location):
    guarded.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]  # the first hop (this test's server) is allowed
    with LocalHttpServer(routes={"/secret": (200, b"internal")}) as inside:
        with HostileServer("redirect", location=location.format(port=inside.port)) as server, Clock() as clock:
            with pytest.raises(outbound.AddressRefused, match="internal address"):
                outbound.get(server.url, timeout=DEADLINE, max_bytes=1000, user_target=True, redirects=2)
        assert server.hits == 1 and inside.gets == [] and clock.within(DEADLINE)


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "10.0.0.5", "192.168.1.1", "172.16.0.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
                "224.0.0.1", "::1", "fe80::1", "fd00:ec2::254", "::ffff:127.0.0.1"],
)  # fmt: skip
def test_internal_addresses_are_refused(guarded, address):
    assert not outbound.address_allowed(address)


def test_public_addresses_and_allowed_networks_pass(guarded):
    assert outbound.address_allowed("93.184.216.34") and outbound.address_allowed("2606:4700::1")
    guarded.OUTBOUND_ALLOWED_NETWORKS = ["192.168.1.0/24"]
    assert outbound.address_allowed("192.168.1.7") and not outbound.address_allowed("192.168.2.7")


def test_a_name_resolving_to_a_private_address_is_refused_before_connecting(guarded, monkeypatch):
    with LocalHttpServer(routes={"/": (200, b"{}")}) as server:
        fake_dns(monkeypatch, {"rates.example": ["127.0.0.1"], "mixed.example": ["93.184.216.34", "10.0.0.5"]})
        for name in ("rates.example", "mixed.example"):
            with pytest.raises(outbound.AddressRefused, match="internal address"):
                outbound.get(f"http://{name}:{server.port}/", timeout=DEADLINE, max_bytes=1000, user_target=True)
        assert server.gets == []
        # Allowed explicitly: it connects to the address it checked (not a second lookup).
        guarded.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
        answer = outbound.get(
            f"http://rates.example:{server.port}/", timeout=DEADLINE, max_bytes=1000, user_target=True
        )
        assert answer.status_code == 200 and server.gets[0].headers["Host"] == f"rates.example:{server.port}"


def test_unguarded_calls_reach_local_servers(guarded):
    with LocalHttpServer(routes={"/": (200, b"{}")}) as server:
        assert outbound.get(server.url, timeout=DEADLINE, max_bytes=1000).json() == {}


# The callers ---------------------------------------------------------------------------------------------------


def test_the_rates_source_is_guarded_and_bounded(guarded, monkeypatch):
    guarded.FIAT_RATES_TIMEOUT = DEADLINE
    with HostileServer("trickle-headers", interval=0.3) as server, Clock() as clock:
        guarded.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
        with pytest.raises(fiat.RatesError, match="timed out"):
            fiat.fetch_rates(server.url)
    assert clock.within(DEADLINE)
    guarded.OUTBOUND_ALLOWED_NETWORKS = []
    with pytest.raises(fiat.RatesError, match="internal address"):
        fiat.fetch_rates("http://169.254.169.254/latest/meta-data/")


def test_the_lnurl_check_is_bounded_capped_and_guarded(guarded, monkeypatch):
    guarded.REFERRAL_TIMEOUT = DEADLINE
    guarded.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    for behaviour, expected in [("trickle-headers", "timed out"), ("trickle-body", "timed out"),
                                ("endless-body", "larger than")]:  # fmt: skip
        with HostileServer(behaviour, interval=0.3) as server, Clock() as clock:
            result = referral.resolve(f"operator@127.0.0.1:{server.port}")
        assert not result.ok and expected in result.detail and clock.within(DEADLINE), (behaviour, result.detail)
    guarded.OUTBOUND_ALLOWED_NETWORKS = []
    guarded.REFERRAL_ALLOW_HTTP = True
    fake_dns(monkeypatch, {"wallet.example": ["10.0.0.5"]})
    result = referral.resolve("operator@wallet.example")
    assert not result.ok and "internal address (10.0.0.5)" in result.detail


def test_sms4sats_check_finishes_with_a_trickling_referral_domain(guarded, sandbox_url):
    guarded.REFERRAL_TIMEOUT = DEADLINE
    guarded.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    with HostileServer("trickle-headers", interval=0.3) as server:
        guarded.SMS4SATS_REF = f"operator@127.0.0.1:{server.port}"
        out = io.StringIO()
        with Clock() as clock, pytest.raises(SystemExit):
            call_command("sms4sats_check", stdout=out, stderr=io.StringIO())
    assert "referral address" in out.getvalue() and "timed out" in out.getvalue()
    assert clock.took < 20  # the sandbox checks plus one referral deadline, never a hang


@pytest.mark.parametrize("behaviour", ["trickle-headers", "trickle-body"])
def test_the_sms4sats_clients_end_by_their_deadline(behaviour):
    with HostileServer(behaviour, interval=0.3) as server:
        with Sms4satsClient(base_url=server.url, timeout=DEADLINE) as client, Clock() as clock:
            with pytest.raises(UpstreamUnavailable, match="timed out"):
                client.order_status("abc")
        assert clock.within(DEADLINE)

        async def poll():
            # Timed from the call, as above: not the event loop's start and the client's setup, which a loaded
            # machine (CI) once made longer than the margin.
            async with AsyncSms4satsClient(base_url=server.url, timeout=DEADLINE) as client:
                with Clock() as clock, pytest.raises(UpstreamUnavailable, match="timed out"):
                    await client.order_status("abc")
            return clock

        assert asyncio.run(poll()).within(DEADLINE)


def test_the_sms4sats_clients_cap_an_endless_answer():
    with HostileServer("endless-body") as server:
        with Sms4satsClient(base_url=server.url, timeout=5) as client, pytest.raises(UpstreamMalformed, match="larger"):
            client.order_status("abc")

        async def poll():
            async with AsyncSms4satsClient(base_url=server.url, timeout=5) as client:
                await client.order_status("abc")

        with pytest.raises(UpstreamMalformed, match="larger"):
            asyncio.run(poll())


def paid_delivery(url):
    from orders import lifecycle

    Endpoint.objects.create(url=url, events=[EventType.ORDER_PAID])
    lifecycle.transition(make_order(Status.UNPAID), Status.HELD, paid_at=timezone.now())
    return Delivery.objects.get()


def test_a_webhook_receiver_trickling_headers_does_not_hold_the_worker(db, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = DEADLINE
    with HostileServer("trickle-headers", interval=0.3) as server, Clock() as clock:
        sending.attempt(paid_delivery(server.url).pk)
    assert clock.within(DEADLINE)
    attempt = Attempt.objects.get()
    assert attempt.status_code is None and "timed out" in attempt.error and not attempt.succeeded


def test_a_webhook_endpoint_turned_internal_is_refused_at_delivery(db, guarded, monkeypatch):
    with LocalHttpServer() as server:
        delivery = paid_delivery(f"http://hooks.example:{server.port}/hook")  # saved while public, say
        fake_dns(monkeypatch, {"hooks.example": ["127.0.0.1"]})  # now it resolves to this machine
        sending.attempt(delivery.pk)
        assert server.posts == []
    attempt = Attempt.objects.get()
    assert attempt.status_code is None and "internal address (127.0.0.1)" in attempt.error


def test_an_internal_service_answer_is_kept_as_a_short_printable_snippet(db, settings):
    with LocalHttpServer() as server:
        server.answer(500, "-ERR wrong\u202e type\x1b[0m " + "secret " * 1000)
        sending.attempt(paid_delivery(server.url).pk)
    excerpt = Attempt.objects.get().response_excerpt
    assert len(excerpt) <= settings.WEBHOOK_RESPONSE_EXCERPT_BYTES and excerpt.isprintable()
    assert excerpt.startswith("-ERR wrong type [0m secret")


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.5:6379/", "http://localhost:5432/",
            "http://[::1]:8000/hook", "http://0.0.0.0/"],
)  # fmt: skip
def test_the_endpoint_form_refuses_internal_addresses(admin_client, guarded, url):
    response = admin_client.post(
        reverse("admin:webhooks_endpoint_add"),
        {"url": url, "secret": "whsec_x", "events": ["order.paid"], "active": "on", "description": ""},
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "internal address" in str(errors["url"]) and "OUTBOUND_ALLOWED_NETWORKS" in str(errors["url"])
    assert not Endpoint.objects.exists()


def test_the_endpoint_form_accepts_an_allowed_local_network(admin_client, guarded):
    guarded.OUTBOUND_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    response = admin_client.post(
        reverse("admin:webhooks_endpoint_add"),
        {"url": "http://10.0.0.5:8080/hook", "secret": "whsec_x", "events": ["order.paid"], "active": "on"},
    )
    assert response.status_code == 302 and Endpoint.objects.get().url == "http://10.0.0.5:8080/hook"


def test_an_apprise_json_target_at_an_internal_address_is_refused(guarded, json_receiver):
    from types import SimpleNamespace

    from alerts import delivery as alerts

    entry = SimpleNamespace(title="Test", body="body", event="upstream_down")
    ok, error = alerts.send_one(f"json://user:pw@127.0.0.1:{json_receiver.port}/", entry)
    assert not ok and "internal address (127.0.0.1)" in error and "pw" not in error
    assert json_receiver.posts == []
    guarded.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    ok, error = alerts.send_one(f"json://127.0.0.1:{json_receiver.port}/", entry)
    assert ok and len(json_receiver.posts) == 1
