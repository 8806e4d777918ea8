"""The order page and its live status part: every state, 404s, one query per poll, 286 when final."""

import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from orders import lifecycle
from orders.models import Kind, OrderEvent, RefundReason, SmsStatus, Status
from shop.qr import invoice_uri, qr_matrix
from shopsettings import runtime
from tests.factories import BOLT11, make_order

pytestmark = pytest.mark.django_db


def page(client, order):
    response = client.get(order.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


def status(client, order, **headers):
    return client.get(reverse("orders:status", args=[order.public_id]), headers=headers)


def test_unknown_and_malformed_ids_are_404(client):
    assert client.get(f"/o/{uuid.uuid4()}/").status_code == 404
    assert client.get("/o/not-a-uuid/").status_code == 404
    assert client.get(f"/o/{uuid.uuid4()}/status").status_code == 404
    assert client.get("/o/1/status").status_code == 404
    assert client.post(f"/o/{uuid.uuid4()}/cancel").status_code == 404
    fund = make_order(kind=Kind.FUND)
    assert client.get(fund.get_absolute_url()).status_code == 404


@pytest.mark.parametrize("state", [Status.NEW, Status.CREATING])
def test_preparing(client, state):
    html = page(client, make_order(state))
    assert "Preparing your invoice" in html
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in html
    assert 'hx-trigger="every 2000ms, poll-now, visibilitychange from:document"' in html


def test_unpaid_shows_qr_amount_countdown_copy_wallet_and_sandbox(client, settings):
    settings.SANDBOX = True
    order = make_order()
    html = page(client, order)
    assert 'class="qr-svg"' in html
    assert f'href="lightning:{BOLT11}"' in html
    assert f'data-copy="{BOLT11}"' in html
    assert f'data-webln="{BOLT11}" hidden' in html
    assert "1,500</span>" in html
    assert 'data-countdown="89' in html or 'data-countdown="9' in html  # ~900 s
    assert "Pay with the sandbox wallet" in html
    assert 'name="payreq"' in html and f'name="next" value="{order.get_absolute_url()}"' in html
    assert "hold invoice" in html
    assert "charged only when the code arrives" in html


def test_unpaid_without_sandbox_has_no_sandbox_button(client, settings):
    settings.SANDBOX = False
    assert "sandbox wallet" not in page(client, make_order())


def test_qr_encodes_lightning_and_upper_case_invoice():
    import qrcode

    expected = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2)
    expected.add_data("lightning:" + BOLT11.upper())
    expected.make(fit=True)
    assert invoice_uri(BOLT11) == "lightning:" + BOLT11.upper()
    assert qr_matrix(invoice_uri(BOLT11)) == expected.get_matrix()


def test_held_without_number(client):
    html = page(client, make_order(Status.HELD))
    assert "getting your number" in html
    assert "locked, not spent" in html
    assert "returns to your wallet automatically" in html
    assert "may show it as pending" in html
    assert "Automatic cancel and refund in" in html
    assert 'btn-danger" disabled' in html
    assert "available in" in html


def test_waiting_code_shows_the_number_and_cancel_after_two_minutes(client):
    order = make_order(Status.WAITING_CODE, number="4915123456789")
    html = page(client, order)
    assert "+4915123456789" in html
    assert 'data-copy="+4915123456789"' in html
    assert 'btn-danger" disabled' in html
    order.paid_at = timezone.now() - timedelta(minutes=3)
    order.save()
    html = page(client, order)
    assert 'btn-danger" disabled' not in html
    assert "Cancel and return my payment" in html


def test_completed_receive_shows_the_code(client):
    html = page(client, make_order(Status.COMPLETED, number="4915123456789", code="48010", completed_at=timezone.now()))
    # Shown big, and read digit by digit by screen readers (the big one is hidden from them).
    assert '<span class="bigcode-value" data-code aria-hidden="true">48010</span>' in html
    assert '<span class="visually-hidden">4 8 0 1 0</span>' in html
    assert 'data-copy="48010"' in html
    assert "<noscript><meta" not in html
    assert "hx-get" not in html


@pytest.mark.parametrize(
    "reason, words",
    [
        (RefundReason.TIMEOUT, "no code arrived in time"),
        (RefundReason.NO_NUMBER, "no number was available"),
        (RefundReason.CANCELED, "canceled"),
    ],
)
def test_refunded_says_the_money_came_back(client, reason, words):
    html = page(client, make_order(Status.REFUNDED, refund_reason=reason, refunded_at=timezone.now()))
    assert f"Refunded: {words}" in html
    assert "Nothing was charged." in html and "back in your wallet automatically" in html


def test_expired_and_failed(client):
    html = page(client, make_order(Status.EXPIRED))
    assert "Invoice expired" in html and "Nothing was charged." in html
    html = page(client, make_order(Status.FAILED, bolt11="", failure_reason="<b>boom</b>"))
    assert "No money moved." in html
    assert "<b>boom</b>" not in html


def test_expired_order_keeps_polling_during_the_grace_window(client):
    order = make_order(Status.EXPIRED, next_poll_at=timezone.now())
    assert status(client, order).status_code == 200  # a late payment would still show up
    order.next_poll_at = None
    order.save()
    assert status(client, order).status_code == 286


def test_send_order_progress(client):
    order = make_order(Status.HELD, kind=Kind.SEND, sms_status=SmsStatus.CREATED, message="Hello <b>there</b>")
    html = page(client, order)
    assert "sending your SMS" in html
    assert 'aria-current="step">Queued' in html
    assert "Hello &lt;b&gt;there&lt;/b&gt;" in html  # the message, escaped
    assert "charged once the SMS is sent" in html
    # Settled at "sent"; the engine keeps watching for the delivery report, and so does the page.
    order.status, order.sms_status, order.completed_at = Status.COMPLETED, SmsStatus.SENT, timezone.now()
    order.next_poll_at = timezone.now()
    order.save()
    assert status(client, order).status_code == 200
    order.sms_status, order.next_poll_at = SmsStatus.DELIVERED, None
    order.save()
    response = status(client, order)
    assert response.status_code == 286
    assert 'aria-current="step">Delivered' in response.content.decode()


def test_send_order_failed_is_refunded(client):
    html = page(
        client,
        make_order(Status.REFUNDED, kind=Kind.SEND, sms_status=SmsStatus.FAILED, refund_reason=RefundReason.SMS_FAILED),
    )
    assert "could not be sent" in html and "Nothing was charged." in html


@pytest.mark.parametrize(
    "state, fields",
    [
        (Status.NEW, {}),
        (Status.UNPAID, {}),
        (Status.HELD, {}),
        (Status.WAITING_CODE, {"number": "4915123456789"}),
        (Status.COMPLETED, {"code": "123456", "number": "4915123456789"}),
        (Status.REFUNDED, {"refund_reason": RefundReason.TIMEOUT}),
        (Status.EXPIRED, {}),
        (Status.FAILED, {}),
    ],
)
def test_status_part_reads_one_row(client, django_assert_num_queries, state, fields):
    order = make_order(state, **fields)
    runtime.get("SHOP_NAME")  # the operator's settings are read once per process and change, not per request
    with django_assert_num_queries(1):
        response = status(client, order)
    assert response.status_code in (200, 286)
    assert "<html" not in response.content.decode()
    assert 'id="order-status"' in response.content.decode()


@pytest.mark.parametrize("state", [Status.COMPLETED, Status.REFUNDED, Status.EXPIRED, Status.FAILED])
def test_status_part_stops_polling_at_a_terminal_state(client, state):
    response = status(client, make_order(state, code="1", refund_reason=RefundReason.TIMEOUT))
    assert response.status_code == 286
    assert "hx-get" not in response.content.decode()


def test_status_part_204_when_nothing_changed(client, django_capture_on_commit_callbacks):
    order = make_order(Status.UNPAID)
    first = status(client, order)
    assert first.status_code == 200
    assert 'hx-trigger="every 2000ms, poll-now, visibilitychange from:document"' in first.content.decode()
    version = first.content.decode().split('data-version="')[1].split('"')[0]
    assert status(client, order, **{"X-Order-Version": version}).status_code == 204
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.transition(order, Status.HELD, paid_at=timezone.now())
    changed = status(client, order, **{"X-Order-Version": version})
    assert changed.status_code == 200
    assert "locked, not spent" in changed.content.decode()
    assert changed["Cache-Control"].startswith("max-age=0")


def test_status_part_286_even_with_a_matching_version(client):
    order = make_order(Status.EXPIRED)
    version = status(client, order).content.decode().split('data-version="')[1].split('"')[0]
    unchanged = status(client, order, **{"X-Order-Version": version})
    assert unchanged.status_code == 286
    assert unchanged.content == b""  # the page already shows this state: polling stops, nothing is swapped
    assert unchanged["HX-Reswap"] == "none"


def test_cancel_refused_before_two_minutes(client):
    order = make_order(Status.WAITING_CODE, number="4915123456789")
    response = client.post(reverse("orders:cancel", args=[order.public_id]), follow=True)
    assert response.status_code == 200
    assert "2 minutes after payment" in response.content.decode()
    assert not OrderEvent.objects.filter(order=order, note__startswith="Cancel requested").exists()


def test_cancel_after_two_minutes_is_requested(client):
    order = make_order(Status.WAITING_CODE, number="4915123456789", paid_at=timezone.now() - timedelta(minutes=3))
    response = client.post(reverse("orders:cancel", args=[order.public_id]), follow=True)
    assert "Cancel requested" in response.content.decode()
    assert OrderEvent.objects.filter(order=order, note__startswith="Cancel requested").exists()
    order.refresh_from_db()
    assert order.status == Status.WAITING_CODE  # refunded only once sms4sats confirms


@pytest.mark.parametrize("state", [Status.COMPLETED, Status.UNPAID, Status.REFUNDED])
def test_cancel_refused_in_other_states(client, state):
    order = make_order(
        state, code="1" if state == Status.COMPLETED else "", paid_at=timezone.now() - timedelta(minutes=3)
    )
    response = client.post(reverse("orders:cancel", args=[order.public_id]), follow=True)
    assert "can no longer be canceled" in response.content.decode()


def test_cancel_needs_post_and_csrf(client):
    order = make_order(Status.WAITING_CODE, paid_at=timezone.now() - timedelta(minutes=3))
    url = reverse("orders:cancel", args=[order.public_id])
    assert client.get(url).status_code == 405
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.post(url).status_code == 403


def test_a_pending_cancel_is_shown_instead_of_the_button(client):
    order = make_order(Status.WAITING_CODE, number="4915000000000", paid_at=timezone.now() - timedelta(minutes=3))
    assert "Cancel and return my payment" in page(client, order)
    order.cancel_requested_at = timezone.now()
    order.save()
    html = page(client, order)
    assert "Cancel requested." in html
    assert "Cancel and return my payment" not in html
