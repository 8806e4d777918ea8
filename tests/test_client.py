"""The real client over real HTTP against the sandbox on a live server: every endpoint, sync and async,
the documented variants and the errors; and ``manage.py sms4sats_check`` both ways."""

import asyncio
import os
import subprocess
import sys
from datetime import UTC
from io import StringIO
from pathlib import Path

import bolt11
import httpx
import pytest
from django.core.management import call_command

from orders.sms4sats import (
    AUTO_SELECT,
    AsyncSms4satsClient,
    Sms4satsClient,
    UpstreamMalformed,
    UpstreamRejected,
    UpstreamUnavailable,
    get_client,
)
from tests.fake_upstream import unreachable_url

BASE_DIR = Path(__file__).resolve().parent.parent
REF = "shop@example.com"


@pytest.fixture
def fast_sandbox(settings):
    """Sandbox steps happen at once: a paid order has its number and code, a send order is delivered."""
    settings.SANDBOX_NUMBER_DELAY = 0
    settings.SANDBOX_CODE_DELAY = 0
    settings.SANDBOX_SMS_SENT_DELAY = 0
    settings.SANDBOX_SMS_DELIVERED_DELAY = 0


@pytest.fixture
def client(sandbox_url, settings):
    settings.SMS4SATS_REF = REF
    with Sms4satsClient() as client:
        yield client


def pay(payreq):
    from sandbox.wallet import pay_invoice

    ok, reason = pay_invoice(payreq)
    assert ok, reason


def sats_of(payreq):
    return bolt11.decode(payreq).amount_msat // 1000


def control(sandbox_url, **switches):
    site = sandbox_url.removesuffix("/sandbox/api")
    response = httpx.post(site + "/sandbox/control", json=switches, headers={"Origin": site})
    assert response.status_code == 200, response.text


# --- catalog ---


def test_catalog_endpoints(client):
    client.ping()
    countries = client.countries()
    assert countries[0].cc == AUTO_SELECT
    assert len({c.cc for c in countries}) == len(countries)
    by_cc = {c.cc: c for c in countries}
    assert by_cc[0].name == "Russia" and by_cc[187].name == "USA"
    assert any(c.rent for c in countries)

    services = client.services(187)
    telegram = next(s for s in services if s.code == "tg")
    assert telegram.name == "Telegram" and isinstance(telegram.count, int)

    rentals = client.rental_countries()
    assert rentals and all(r.weeks > 0 and r.price > 0 for r in rentals)
    assert {r.cc for r in rentals} <= {c.cc for c in countries if c.rent}

    price = client.price(187, "tg")
    assert price.country == 187 and price.price > 0 and price.send > 0 and price.fee > 0
    assert price.description
    by_name = client.price("us", "telegram")
    assert (by_name.price, by_name.country) == (price.price, 187)
    generic = client.price()
    assert generic.price is None and generic.receive > 0


def test_catalog_rejections(client):
    with pytest.raises(UpstreamRejected, match="unknown country"):
        client.services(17)  # a code with no country
    with pytest.raises(UpstreamRejected, match="unknown service"):
        client.rental_countries("no-such-service")
    with pytest.raises(UpstreamRejected):
        client.price(187, "no-such-service")


# --- receive and rental orders ---


def test_receive_order_lifecycle(client, fast_sandbox):
    quoted = client.price(187, "tg").price
    order = client.create_order(187, "tg")
    assert len(order.order_id) == 64 and not order.paid_from_balance
    assert order.payreq.startswith("lnbcrt") and sats_of(order.payreq) == quoted
    assert bolt11.decode(order.payreq).payment_hash == order.order_id

    unpaid = client.order_status(order.order_id)
    assert (unpaid.paid, unpaid.number, unpaid.code, unpaid.error) == (False, None, None, None)

    pay(order.payreq)
    status = client.order_status(order.order_id)
    assert status.paid and status.error is None
    assert status.code.isdigit() and status.number.isdigit()
    assert status.number.startswith("1")  # USA
    assert status.activation_id.isdigit()
    assert status.country == "USA" and status.service == "Telegram"
    assert status.timestamp.tzinfo == UTC
    assert status.raw["code"] == int(status.code)  # the sandbox follows the docs: numbers on the wire

    with pytest.raises(UpstreamRejected, match="code already received"):
        client.cancel_order(order.order_id)


def test_waiting_for_number_then_code(client, settings):
    settings.SANDBOX_NUMBER_DELAY = 0
    settings.SANDBOX_CODE_DELAY = 3600
    order = client.create_order(AUTO_SELECT, "ot")
    pay(order.payreq)
    status = client.order_status(order.order_id)
    assert status.paid and status.number and status.code is None and status.error is None
    assert status.country  # Auto-Select lands on a real country name


def test_no_number_is_a_200_with_error(client, fast_sandbox):
    order = client.create_order(187, "nonumber")
    pay(order.payreq)
    status = client.order_status(order.order_id)
    assert status.paid and status.number is None and status.code is None
    assert status.error.startswith("No available number")


def test_global_no_number_scenario(client, sandbox_url, fast_sandbox):
    control(sandbox_url, scenario="no_number")
    order = client.create_order(187, "tg")
    pay(order.payreq)
    assert client.order_status(order.order_id).error.startswith("No available number")


def test_cancel(client, settings):
    settings.SANDBOX_NUMBER_DELAY = 0
    settings.SANDBOX_CODE_DELAY = 3600
    order = client.create_order(187, "tg")
    with pytest.raises(UpstreamRejected, match="not paid"):
        client.cancel_order(order.order_id)
    pay(order.payreq)
    with pytest.raises(UpstreamRejected, match="canceled .* after payment"):
        client.cancel_order(order.order_id)  # the 2 minutes are not over
    settings.SANDBOX_CANCEL_AFTER = 0
    assert client.cancel_order(order.order_id) is None
    status = client.order_status(order.order_id)
    assert status.error and status.code is None
    with pytest.raises(UpstreamRejected, match="already canceled"):
        client.cancel_order(order.order_id)


def test_rental_order(client, fast_sandbox):
    offer = client.rental_countries()[0]
    order = client.create_order(offer.cc, "full", is_rental=True)
    assert sats_of(order.payreq) == offer.price
    pay(order.payreq)
    status = client.order_status(order.order_id)
    assert status.paid and status.number


def test_create_order_rejections(client):
    with pytest.raises(UpstreamRejected, match="unknown country"):
        client.create_order(17, "tg")
    with pytest.raises(UpstreamRejected, match="unknown service"):
        client.create_order(187, "no-such-service")
    with pytest.raises(UpstreamRejected, match="rentals only"):
        client.create_order(187, "full")


@pytest.mark.parametrize("method", ["order_status", "cancel_order"])
def test_unknown_order_id(client, method):
    with pytest.raises(UpstreamRejected, match="order not found") as info:
        getattr(client, method)("0" * 64)
    assert info.value.status_code == 400


# --- send orders ---


def test_send_order_lifecycle(client, fast_sandbox):
    order = client.create_send_order("+19871234567", "Hello from the shop")
    assert sats_of(order.payreq) == client.price().send
    pay(order.payreq)
    status = client.order_status(order.order_id)
    assert status.paid and status.sms_status == "delivered"
    assert status.activation_id.startswith("SM") and status.timestamp.tzinfo == UTC


def test_send_order_created_then_failed(client, settings):
    settings.SANDBOX_SMS_SENT_DELAY = 3600
    order = client.create_send_order("+19871230000", "fails")  # the sandbox fails numbers ending in 0000
    pay(order.payreq)
    assert client.order_status(order.order_id).sms_status == "created"
    settings.SANDBOX_SMS_SENT_DELAY = 0
    assert client.order_status(order.order_id).sms_status == "failed"


def test_send_order_with_webhook_is_accepted(client, live_server):
    order = client.create_send_order("+19871234567", "hi", webhook_url=live_server.url + "/hook")
    assert order.payreq.startswith("lnbcrt")


@pytest.mark.parametrize(
    "phone, message, reason",
    [
        ("19871234567", "hi", "E.164"),
        ("+1 987 123 4567", "hi", "E.164"),
        ("+19871234567", "x" * 141, "longer than 140"),
        ("+19871234567", "", "message is required"),
    ],
)
def test_send_order_rejections(client, phone, message, reason):
    with pytest.raises(UpstreamRejected, match=reason):
        client.create_send_order(phone, message)


def test_message_of_140_characters_is_fine(client):
    assert client.create_send_order("+19871234567", "x" * 140).order_id


# --- prepaid account ---


def test_fund_balance_history_and_immediate_orders(client, fast_sandbox):
    assert client.balance() == 0
    assert client.history().entries == []
    with pytest.raises(UpstreamRejected, match="Insufficient balance"):
        client.create_order(187, "tg", immediate=True)

    funding = client.fund(20000)
    assert sats_of(funding.payreq) == 20000
    assert client.balance() == 0  # not paid yet
    pay(funding.payreq)
    assert client.balance() == 20000
    history = client.history()
    assert history.total_amount == 20000
    [entry] = history.entries
    assert (entry.amount, entry.price, entry.description) == (20000, 20000, "fund account")
    assert entry.preimage_hash == funding.order_id and entry.created_at.tzinfo == UTC

    price = client.price(187, "tg").price
    order = client.create_order(187, "tg", immediate=True)
    assert order.paid_from_balance
    assert client.order_status(order.order_id).code
    send = client.create_send_order("+19871234567", "paid from balance", immediate=True)
    assert send.paid_from_balance
    assert client.balance() == 20000 - price - client.price().send


def test_missing_key_is_rejected_before_calling(sandbox_url, settings):
    settings.SMS4SATS_API_KEY = None
    with Sms4satsClient() as client:
        for call in (
            client.balance,
            client.history,
            lambda: client.fund(1000),
            lambda: client.create_order(187, "tg", immediate=True),
            lambda: client.create_send_order("+19871234567", "hi", immediate=True),
        ):
            with pytest.raises(UpstreamRejected, match="SMS4SATS_API_KEY is not set"):
                call()
        assert client.countries()  # the rest works without a key


def test_wrong_key_is_rejected_by_the_upstream(sandbox_url):
    with Sms4satsClient(api_key="not-the-key") as client:
        with pytest.raises(UpstreamRejected, match="Invalid API key"):
            client.balance()
        with pytest.raises(UpstreamRejected, match="Invalid API key"):
            client.fund(1000)


def test_fund_rejects_a_bad_amount(client):
    with pytest.raises(UpstreamRejected, match="amount"):
        client.fund(0)


# --- faults ---


def test_nothing_listening_is_unavailable(db):
    with Sms4satsClient(base_url=unreachable_url(), timeout=2) as client:
        with pytest.raises(UpstreamUnavailable):
            client.ping()
        with pytest.raises(UpstreamUnavailable, match="unreachable"):
            client.countries()


def test_slow_answer_times_out(sandbox_url):
    control(sandbox_url, slow_seconds=1)
    with Sms4satsClient(timeout=0.3) as client, pytest.raises(UpstreamUnavailable, match="timed out"):
        client.countries()


def test_upstream_500s(client, sandbox_url):
    control(sandbox_url, error_rate=1)
    with pytest.raises(UpstreamUnavailable, match="backend error") as info:
        client.countries()
    assert info.value.status_code == 500
    with pytest.raises(UpstreamUnavailable):
        client.ping()


def test_malformed_bodies(client, sandbox_url):
    control(sandbox_url, malformed_rate=1)
    with pytest.raises(UpstreamMalformed, match="not JSON"):
        client.order_status("0" * 64)
    with pytest.raises(UpstreamMalformed):
        client.price(187, "tg")


def test_shared_client_follows_settings(sandbox_url):
    client = get_client()
    assert client.base_url == sandbox_url and client is get_client()
    assert client.countries()


# --- async: every endpoint on the same sandbox ---


def arun(method, *args, **kwargs):
    """One call on a fresh async client (the wallet runs sync ORM code, so it stays outside the loop)."""

    async def go():
        async with AsyncSms4satsClient() as client:
            return await getattr(client, method)(*args, **kwargs)

    return asyncio.run(go())


def test_async_client_runs_on_aiohttp(sandbox_url):
    """The poller's calls go through aiohttp (a third of httpx's own CPU per call, BENCHMARKS.md)."""
    from httpx_aiohttp import AiohttpTransport

    async def go():
        async with AsyncSms4satsClient() as client:
            assert isinstance(client._http._transport, AiohttpTransport)
            assert await client.services(187)
            return client._http._transport.client

    session = asyncio.run(go())
    assert session is not None and session.closed  # the connections went with the client


def test_async_client_has_only_the_concurrent_reads():
    """The poller's order_status and the catalog refresh's services and price; nothing else to mirror."""
    public = {name for name in dir(AsyncSms4satsClient) if not name.startswith("_")}
    assert public == {"order_status", "services", "price", "aclose"}


def test_async_reads(sandbox_url, settings, fast_sandbox):
    async def go(order_ids):
        async with AsyncSms4satsClient() as client:
            # The poller's pattern: many calls at once over one pool.
            return await asyncio.gather(
                client.services(187), client.price(187, "tg"), *(client.order_status(o) for o in order_ids)
            )

    settings.SMS4SATS_REF = REF
    with Sms4satsClient() as sync_client:
        unpaid = sync_client.create_order(187, "tg")
        paid = sync_client.create_order(187, "tg")
    pay(paid.payreq)
    services, price, unpaid_status, paid_status = asyncio.run(go([unpaid.order_id, paid.order_id]))
    assert any(s.code == "tg" for s in services) and price.price > 0
    assert unpaid_status.paid is False
    assert paid_status.paid and paid_status.code


def test_async_errors(sandbox_url, settings):
    with pytest.raises(UpstreamRejected, match="order not found"):
        arun("order_status", "0" * 64)
    with pytest.raises(UpstreamRejected, match="unknown country"):
        arun("services", 123456)
    settings.SMS4SATS_API_URL = unreachable_url()
    with pytest.raises(UpstreamUnavailable) as info:
        arun("order_status", "0" * 64)
    assert info.value.request_sent is False  # nothing listens: it surely never arrived


def test_async_timeout(sandbox_url):
    control(sandbox_url, slow_seconds=1)

    async def go():
        async with AsyncSms4satsClient(timeout=0.3) as client:
            await client.order_status("0" * 64)

    with pytest.raises(UpstreamUnavailable, match="timed out") as info:
        asyncio.run(go())
    assert info.value.request_sent is True


# --- manage.py sms4sats_check ---


def test_check_command_healthy(sandbox_url):
    out = StringIO()
    call_command("sms4sats_check", stdout=out, no_color=True)
    lines = out.getvalue().splitlines()
    assert lines[0] == f"sms4sats upstream: {sandbox_url}"
    assert lines[1] == "availability: OK"
    assert lines[2].startswith("countries: OK (") and "countries)" in lines[2]
    assert lines[3].startswith("services (country 187): OK (")
    assert lines[4].startswith("price (country 187, service tg): OK (") and "sats" in lines[4]
    assert lines[5] == "balance: OK (0 sats)"
    assert "sandbox-api-key" not in out.getvalue()


def test_check_command_reports_each_failure(sandbox_url, settings):
    settings.SMS4SATS_API_KEY = None
    control(sandbox_url, malformed_rate=1)
    out = StringIO()
    with pytest.raises(SystemExit) as info:
        call_command("sms4sats_check", stdout=out, no_color=True)
    assert info.value.code == 1
    text = out.getvalue()
    assert "availability: OK" in text  # any 2xx is "up"
    assert "countries: FAILED (UpstreamMalformed" in text
    assert "price (country 187, service tg): FAILED (UpstreamMalformed" in text
    assert "balance: skipped (SMS4SATS_API_KEY is not set)" in text


def test_check_command_nothing_listening(settings, db):
    settings.SMS4SATS_API_URL = unreachable_url()
    out, err = StringIO(), StringIO()
    with pytest.raises(SystemExit) as info:
        call_command("sms4sats_check", stdout=out, stderr=err, no_color=True)
    assert info.value.code == 1
    assert out.getvalue() == ""
    [line] = err.getvalue().splitlines()
    assert "unreachable" in line and settings.SMS4SATS_API_URL in line


def test_check_command_process_exit_code():
    """The operator's view: one line on stderr (no log noise, no traceback), exit code 1."""
    url = unreachable_url()
    env = {**os.environ, "SMS4SATS_API_URL": url, "SANDBOX": "on", "SMS4SATS_API_KEY": "k"}
    result = subprocess.run(
        [sys.executable, "manage.py", "sms4sats_check"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"sms4sats at {url} is unreachable")
