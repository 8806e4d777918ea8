"""Orders paid from the prepaid balance (``immediate: true``): the client against the sandbox over real HTTP
(funded balance, insufficient balance, no key), and the strict reading of the answer ("paid", nothing else)."""

import pytest

from orders.sms4sats import (
    Sms4satsClient,
    UpstreamMalformed,
    UpstreamRejected,
    parse_created_order,
    parse_paid_order,
)
from sandbox.catalog import SEND_PRICE, receive_price
from sandbox.models import SandboxOrder
from sandbox.wallet import pay_invoice

USA, TELEGRAM = 187, "tg"


def fund(client, amount):
    """Top the sandbox's API-key balance up the way an operator does: the fund invoice, paid."""
    funding = client.fund(amount)
    ok, reason = pay_invoice(funding.payreq)
    assert ok, reason


@pytest.fixture
def client(sandbox_url, settings):
    assert settings.SMS4SATS_API_KEY == settings.SANDBOX_API_KEY
    with Sms4satsClient() as client:
        yield client


def test_an_immediate_order_is_paid_from_the_balance(client):
    price = receive_price(USA, TELEGRAM)
    fund(client, 10_000)
    assert client.balance() == 10_000

    created = client.create_order(USA, TELEGRAM, immediate=True)

    assert created.payreq == "paid"
    assert created.paid_from_balance
    assert client.balance() == 10_000 - price
    held = client.order_status(created.order_id)
    assert held.paid  # paid at once: no invoice to wait for
    stored = SandboxOrder.objects.get(order_id=created.order_id)
    assert stored.immediate and stored.payreq == ""


def test_an_immediate_send_order_is_paid_from_the_balance(client):
    fund(client, 5_000)
    created = client.create_send_order("+447911123456", "Hello from the balance", immediate=True)
    assert created.paid_from_balance
    assert client.balance() == 5_000 - SEND_PRICE


def test_insufficient_balance_is_a_clear_refusal(client):
    price = receive_price(USA, TELEGRAM)
    fund(client, price - 1)
    with pytest.raises(UpstreamRejected) as refused:
        client.create_order(USA, TELEGRAM, immediate=True)
    assert refused.value.status_code == 400
    assert refused.value.reason == f"Insufficient balance: {price - 1} sats available, {price} needed."
    assert client.balance() == price - 1  # nothing was taken
    assert not SandboxOrder.objects.filter(immediate=True).exists()


def test_without_a_key_nothing_is_sent(sandbox_url):
    with Sms4satsClient(api_key="") as client:
        with pytest.raises(UpstreamRejected, match="SMS4SATS_API_KEY is not set"):
            client.create_order(USA, TELEGRAM, immediate=True)
    assert not SandboxOrder.objects.exists()


def test_a_wrong_key_is_refused_by_the_sandbox(sandbox_url):
    with Sms4satsClient(api_key="not-the-key") as client:
        with pytest.raises(UpstreamRejected, match="Invalid API key"):
            client.create_order(USA, TELEGRAM, immediate=True)


# The strict reading of the answer (no I/O).


def test_only_the_word_paid_is_an_order_paid_from_the_balance():
    order_id = "ab" * 32
    assert parse_paid_order({"status": "OK", "orderId": order_id, "payreq": "paid"}).order_id == order_id
    # An invoice where "paid" was due: the balance did not pay, and the shop must not say it did.
    with pytest.raises(UpstreamMalformed, match='expected "paid"'):
        parse_paid_order({"status": "OK", "orderId": order_id, "payreq": "lnbcrt10u1pexample"})
    for bad in ({"status": "OK", "orderId": order_id}, {"status": "OK", "payreq": "paid"}, ["paid"]):
        with pytest.raises(UpstreamMalformed):
            parse_paid_order(bad)
    # An invoice order's answer reads "paid" as an (undecodable) invoice: the lifecycle then fails it.
    assert not parse_created_order({"orderId": order_id, "payreq": "lnbc1"}).paid_from_balance
