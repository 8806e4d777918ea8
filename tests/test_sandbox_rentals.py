"""Sandbox rentals over real HTTP (the shop's client against the sandbox on a live server): a rented number
receives several SMS at SANDBOX_RENTAL_SMS_INTERVAL, /orderstatus's code is the latest, no cancel, no
auto-cancel; the "no number" and "no SMS ever" scenarios."""

import time

import httpx
import pytest

from orders.sms4sats import Sms4satsClient, UpstreamRejected
from sandbox.models import NO_NUMBER_ERROR
from sandbox.wallet import pay_invoice

INTERVAL = 1.0


@pytest.fixture
def rentals(sandbox_url, settings):
    settings.SANDBOX_NUMBER_DELAY = 0
    settings.SANDBOX_CODE_DELAY = INTERVAL
    settings.SANDBOX_RENTAL_SMS_INTERVAL = INTERVAL
    settings.SANDBOX_RENTAL_SMS_COUNT = 3
    settings.SANDBOX_AUTO_CANCEL = 0.1  # a receive order would be canceled at once: never a rental
    settings.SANDBOX_CANCEL_AFTER = 0
    with Sms4satsClient() as client:
        yield client


def control(sandbox_url, **switches):
    site = sandbox_url.removesuffix("/sandbox/api")
    response = httpx.post(site + "/sandbox/control", json=switches, headers={"Origin": site})
    assert response.status_code == 200, response.text


@pytest.fixture
def scenario(sandbox_url):
    yield lambda name: control(sandbox_url, scenario=name)
    control(sandbox_url)


def rent(client, **kwargs):
    offer = client.rental_countries()[0]
    order = client.create_order(offer.cc, "full", is_rental=True, **kwargs)
    if not order.paid_from_balance:
        assert pay_invoice(order.payreq)[0]
    return order


def watch(client, order_id, seconds):
    """Every /orderstatus answer for a while, a few per interval."""
    answers = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answers.append(client.order_status(order_id))
        time.sleep(INTERVAL / 4)
    return answers


def test_a_rental_receives_several_sms_the_code_is_the_latest(rentals):
    order = rent(rentals)
    answers = watch(rentals, order.order_id, INTERVAL * 5)
    assert all(a.paid and a.number and a.error is None for a in answers)  # never canceled
    codes = [a.code for a in answers if a.code]
    distinct = list(dict.fromkeys(codes))
    assert len(distinct) == 3  # SANDBOX_RENTAL_SMS_COUNT, each its own code, in order
    assert codes == sorted(codes, key=distinct.index)  # a later SMS replaces the code, never an earlier one back
    assert answers[0].code is None  # the number comes first, the first SMS after it
    assert len({a.number for a in answers}) == 1
    assert rentals.order_status(order.order_id).code == distinct[-1]  # the last one stays


def test_a_rental_cannot_be_canceled(rentals):
    order = rent(rentals)
    time.sleep(0.1)
    with pytest.raises(UpstreamRejected, match="not refundable") as info:
        rentals.cancel_order(order.order_id)
    assert info.value.status_code == 400
    status = rentals.order_status(order.order_id)
    assert status.paid and status.number and status.error is None


def test_no_number_scenario_returns_the_payment_at_once(rentals, scenario, settings):
    scenario("no_number")
    order = rent(rentals)
    status = rentals.order_status(order.order_id)
    assert status.paid and status.number is None and status.error == NO_NUMBER_ERROR
    # Paid from the prepaid balance, the sats count back into it.
    funding = rentals.fund(20_000)
    assert pay_invoice(funding.payreq)[0]
    immediate = rent(rentals, immediate=True)
    assert immediate.paid_from_balance
    assert rentals.order_status(immediate.order_id).error == NO_NUMBER_ERROR
    assert rentals.balance() == 20_000


def test_no_sms_ever_scenario_keeps_the_number_without_a_cancel(rentals, scenario):
    scenario("no_code")
    order = rent(rentals)
    answers = watch(rentals, order.order_id, INTERVAL * 4)
    assert all(a.paid and a.number and a.code is None and a.error is None for a in answers)
