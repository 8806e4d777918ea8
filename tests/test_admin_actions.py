"""The order admin's lifecycle actions: refresh from upstream now, cancel upstream (refused before
2 minutes). Unit tests with the lifecycle mocked, then the real thing against the sandbox."""

import time
from datetime import timedelta
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from orders import lifecycle
from orders.models import Kind, Order, RefundReason, Status
from sandbox import control
from sandbox.wallet import pay_invoice
from tests.factories import make_order

CHANGELIST = "admin:orders_order_changelist"


def texts(response):
    """The messages shown on the page the action redirected to (reading them uses them up)."""
    return [str(m) for m in response.context["messages"]]


def button(client, name, order):
    """The button, and for a cancel the confirmation page's "Yes" (``post=yes``)."""
    response = client.post(reverse(f"admin:orders_order_{name}", args=[order.pk]), {"post": "yes"}, follow=True)
    assert response.redirect_chain == [(reverse("admin:orders_order_change", args=[order.pk]), 302)]
    return texts(response)


def bulk(client, action, *orders):
    response = client.post(
        reverse(CHANGELIST),
        # "post": the confirmation page's "Yes" (a cancel asks first; a refresh does not).
        {"action": action, "index": 0, "_selected_action": [o.pk for o in orders], "post": "yes"},
        follow=True,
    )
    assert response.redirect_chain and response.redirect_chain[0][1] == 302
    return texts(response)


# --- Unit: the lifecycle mocked --------------------------------------------------------------------


def test_cancel_shows_the_refusal(admin_client, db):
    order = make_order(status=Status.WAITING_CODE, paid_after=5)
    refusal = lifecycle.CancelRefused("sms4sats allows a cancel 2 minutes after payment; please wait 80 more seconds.")
    with mock.patch("orders.lifecycle.request_cancel", side_effect=refusal) as request_cancel:
        messages = button(admin_client, "cancel", order)
    request_cancel.assert_called_once()
    assert request_cancel.call_args.args[0].pk == order.pk
    assert messages == [f"{order.public_id}: cancel refused. {refusal}"]


def test_cancel_accepted(admin_client, db):
    order = make_order(status=Status.WAITING_CODE, paid_after=5)
    with mock.patch("orders.lifecycle.request_cancel", return_value=None):
        messages = button(admin_client, "cancel", order)
    assert messages == [f"{order.public_id}: cancel requested; the order turns refunded once sms4sats confirms."]


def test_bulk_cancel_reports_each_order(admin_client, db):
    first, second = make_order(status=Status.HELD, paid_after=1), make_order(status=Status.HELD, paid_after=1)

    def request_cancel(order, by):
        assert by == "admin"  # the staff user, named on the timeline
        if order.pk == first.pk:
            raise lifecycle.CancelRefused("too early")

    with mock.patch("orders.lifecycle.request_cancel", side_effect=request_cancel):
        messages = bulk(admin_client, "cancel_upstream", first, second)
    assert f"{first.public_id}: cancel refused. too early" in messages
    assert any(m.startswith(f"{second.public_id}: cancel requested") for m in messages)


def test_refresh_calls_the_lifecycle(admin_client, db):
    order = make_order(status=Status.UNPAID, upstream_id="up-refresh")

    def refresh(target, client=None):
        Order.objects.filter(pk=target.pk).update(status=Status.HELD, paid_at=timezone.now())
        return target

    with mock.patch("orders.lifecycle.refresh", side_effect=refresh) as mocked:
        messages = button(admin_client, "refresh", order)
    mocked.assert_called_once()
    assert messages == [f"{order.public_id}: refreshed, unpaid → held."]


def test_refresh_without_an_upstream_order(admin_client, db):
    order = make_order(status=Status.NEW)
    with mock.patch("orders.lifecycle.refresh") as mocked:
        messages = button(admin_client, "refresh", order)
    mocked.assert_not_called()
    assert "not created at sms4sats yet" in messages[0]


def test_actions_need_post(admin_client, db):
    order = make_order(status=Status.HELD)
    page = admin_client.get(reverse("admin:orders_order_cancel", args=[order.pk]))  # the confirmation, no cancel
    assert page.status_code == 200 and "Cancel at sms4sats?" in page.content.decode()
    order.refresh_from_db()
    assert order.cancel_requested_at is None
    assert admin_client.get(reverse("admin:orders_order_refresh", args=[order.pk])).status_code == 405


def test_bulk_refresh_is_bounded(admin_client, db):
    orders = [make_order(status=Status.UNPAID, upstream_id=f"up-{i}") for i in range(51)]
    with mock.patch("orders.lifecycle.refresh") as mocked:
        messages = bulk(admin_client, "refresh_from_upstream", *orders)
    mocked.assert_not_called()
    assert messages == ["Refresh at most 50 orders at a time."]


# --- The real lifecycle ------------------------------------------------------------------------------


def test_cancel_refused_before_two_minutes(admin_client, db):
    order = make_order(
        status=Status.WAITING_CODE,
        created_at=timezone.now() - timedelta(seconds=40),
        paid_after=10,
        upstream_id="up-early",
        number="12025550100",
    )
    messages = button(admin_client, "cancel", order)
    assert len(messages) == 1
    refused = f"{order.public_id}: cancel refused. sms4sats allows a cancel 2 minutes after payment"
    assert messages[0].startswith(refused)
    order.refresh_from_db()
    assert order.status == Status.WAITING_CODE
    assert not order.events.filter(note__startswith="Cancel requested").exists()


def test_cancel_refused_for_a_send_order(admin_client, db):
    order = make_order(kind=Kind.SEND, status=Status.HELD, paid_after=1)
    messages = bulk(admin_client, "cancel_upstream", order)
    assert messages == [f"{order.public_id}: cancel refused. Only one-time code orders can be canceled."]


# --- Against the sandbox -------------------------------------------------------------------------------


@pytest.fixture
def sandbox(settings, sandbox_url):
    settings.SANDBOX_NUMBER_DELAY = 60  # stays "held" (no number) while the test looks
    control.set_control({})
    yield sandbox_url
    control.set_control({})


def created_upstream(**fields):
    order = lifecycle.place_order(
        kind=Kind.RECEIVE,
        quoted_sats=fields.pop("quoted", 0) or _price(),
        session_key="t",
        country_code=187,
        service_code="tg",
        **fields,
    )
    lifecycle.create_upstream(order.pk)  # what the worker does; synchronously here (a no-op if a worker won)
    deadline = time.monotonic() + 20
    while order.status in (Status.NEW, Status.CREATING) and time.monotonic() < deadline:
        time.sleep(0.1)
        order.refresh_from_db()
    assert order.status == Status.UNPAID, order.failure_reason
    return order


def _price():
    from sandbox import catalog

    return catalog.receive_price(187, "tg")


def test_refresh_on_the_sandbox(admin_client, sandbox):
    order = created_upstream()
    messages = button(admin_client, "refresh", order)
    assert messages == [f"{order.public_id}: refreshed, still unpaid."]
    ok, reason = pay_invoice(order.bolt11)
    assert ok, reason
    messages = button(admin_client, "refresh", order)
    assert messages == [f"{order.public_id}: refreshed, unpaid → held."]
    order.refresh_from_db()
    assert order.status == Status.HELD and order.paid_at is not None
    # The timeline shows the transition the refresh caused, with sms4sats' answer.
    body = admin_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert "unpaid → held" in body
    assert "&quot;paid&quot;: true" in body


def test_cancel_on_the_sandbox(admin_client, sandbox, settings, celery_worker):
    order = created_upstream()
    ok, reason = pay_invoice(order.bolt11)
    assert ok, reason
    button(admin_client, "refresh", order)
    order.refresh_from_db()
    assert order.status == Status.HELD

    # Just paid: the lifecycle refuses, and sms4sats is not asked.
    messages = button(admin_client, "cancel", order)
    assert "cancel refused" in messages[0] and "2 minutes after payment" in messages[0]

    # Two minutes later (both clocks shortened): the cancel goes to the worker, then sms4sats refunds.
    settings.CANCEL_AFTER_SECONDS = 0
    settings.SANDBOX_CANCEL_AFTER = 0
    messages = button(admin_client, "cancel", order)
    assert messages == [f"{order.public_id}: cancel requested; the order turns refunded once sms4sats confirms."]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        order.refresh_from_db()
        if order.status == Status.REFUNDED:
            break
        time.sleep(0.2)
    assert order.status == Status.REFUNDED
    assert order.refund_reason == RefundReason.CANCELED
    notes = list(order.events.values_list("note", flat=True))
    assert "Cancel requested by admin" in notes
