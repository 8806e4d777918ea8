"""Unit tests of the lifecycle: the transition table, compare-and-set, and applying upstream answers."""

from datetime import timedelta

import pytest
from django.utils import timezone

from orders import lifecycle
from orders.lifecycle import ALLOWED, TransitionRefused, transition
from orders.models import Kind, Order, RefundReason, SmsStatus, Status
from orders.sms4sats import OrderStatus

pytestmark = pytest.mark.django_db

ALL = list(Status)


def make_order(status=Status.UNPAID, kind=Kind.RECEIVE, **fields):
    fields.setdefault("quoted_sats", 1500)
    fields.setdefault("upstream_id", None)
    return Order.objects.create(kind=kind, status=status, **fields)


def upstream(paid=False, code=None, number=None, error=None, sms_status=None):
    raw = {"status": "OK", "paid": paid}
    return OrderStatus(
        paid=paid,
        code=code,
        number=number,
        activation_id=None,
        sms_status=sms_status,
        country="India",
        service="Telegram",
        timestamp=None,
        error=error,
        raw=raw,
    )


@pytest.mark.parametrize("from_status", ALL)
@pytest.mark.parametrize("to_status", ALL)
def test_every_move_is_allowed_or_refused_by_the_table(from_status, to_status):
    order = make_order(status=from_status)
    if to_status in ALLOWED[from_status]:
        assert transition(order, to_status, note="test")
        order.refresh_from_db()
        assert order.status == to_status
        event = order.events.get()
        assert (event.from_status, event.to_status) == (from_status, to_status)
    else:
        with pytest.raises(TransitionRefused):
            transition(order, to_status)
        order.refresh_from_db()
        assert order.status == from_status
        assert not order.events.exists()


def test_terminal_states_have_no_way_out():
    for status in (Status.COMPLETED, Status.REFUNDED, Status.FAILED):
        assert ALLOWED[status] == set()
    assert ALLOWED[Status.EXPIRED] == {Status.HELD}


def test_compare_and_set_loses_to_a_concurrent_change():
    order = make_order(status=Status.UNPAID)
    stale = Order.objects.get(pk=order.pk)
    assert transition(order, Status.HELD, paid_at=timezone.now())
    # The stale copy still thinks UNPAID; its move must not apply, and it learns the truth.
    assert not transition(stale, Status.EXPIRED)
    assert stale.status == Status.HELD
    assert Order.objects.get(pk=order.pk).status == Status.HELD
    assert order.events.count() == 1


def test_receive_happy_path_step_by_step():
    order = make_order(upstream_id="a" * 64)
    lifecycle.apply_status(order, upstream(paid=True))
    assert order.status == Status.HELD and order.paid_at
    lifecycle.apply_status(order, upstream(paid=True, number="12345678901"))
    assert order.status == Status.WAITING_CODE and order.number == "12345678901"
    lifecycle.apply_status(order, upstream(paid=True, number="12345678901", code="048010"))
    order.refresh_from_db()
    assert order.status == Status.COMPLETED
    assert order.code == "048010"
    assert order.next_poll_at is None
    assert [e.to_status for e in order.events.all()] == [Status.HELD, Status.WAITING_CODE, Status.COMPLETED]


def test_one_poll_that_shows_everything_at_once_records_each_step():
    order = make_order(upstream_id="b" * 64)
    lifecycle.apply_status(order, upstream(paid=True, number="1", code="42"))
    assert order.status == Status.COMPLETED
    assert [e.to_status for e in order.events.all()] == [Status.HELD, Status.WAITING_CODE, Status.COMPLETED]


def test_no_number_is_a_refund_with_its_reason():
    order = make_order(upstream_id="c" * 64)
    error = "No available number, payment request is canceled. Your funds are returned to your wallet automatically."
    lifecycle.apply_status(order, upstream(paid=True, error=error))
    order.refresh_from_db()
    assert order.status == Status.REFUNDED
    assert order.refund_reason == RefundReason.NO_NUMBER
    assert order.upstream_error == error


def test_unpaid_past_expiry_expires_and_a_late_payment_still_moves_it_on():
    past = timezone.now() - timedelta(seconds=5)
    order = make_order(upstream_id="d" * 64, invoice_expires_at=past)
    lifecycle.apply_status(order, upstream(paid=False))
    assert order.status == Status.EXPIRED
    assert order.next_poll_at is not None  # still watched during the grace window
    lifecycle.apply_status(order, upstream(paid=True))
    assert order.status == Status.HELD


def test_expired_leaves_the_poll_set_after_the_grace_window(settings):
    settings.EXPIRY_GRACE_SECONDS = 0
    order = make_order(upstream_id="e" * 64, invoice_expires_at=timezone.now() - timedelta(seconds=5))
    lifecycle.apply_status(order, upstream(paid=False))
    order.refresh_from_db()
    assert order.status == Status.EXPIRED and order.next_poll_at is None


def test_held_without_code_past_auto_cancel_is_refunded_by_timeout(settings):
    settings.AUTO_CANCEL_SECONDS = 60
    settings.AUTO_CANCEL_GRACE_SECONDS = 10
    order = make_order(
        status=Status.WAITING_CODE, upstream_id="f" * 64, number="1", paid_at=timezone.now() - timedelta(seconds=71)
    )
    lifecycle.apply_status(order, upstream(paid=True, number="1"))
    assert order.status == Status.REFUNDED
    assert order.refund_reason == RefundReason.TIMEOUT


def test_local_deadline_applies_when_upstream_cannot_be_asked(settings):
    settings.AUTO_CANCEL_SECONDS = 60
    settings.AUTO_CANCEL_GRACE_SECONDS = 0
    order = make_order(status=Status.HELD, paid_at=timezone.now() - timedelta(seconds=61))
    lifecycle.apply_local_deadlines(order)
    assert order.status == Status.REFUNDED


def test_send_sent_then_delivered_then_stops_polling():
    order = make_order(kind=Kind.SEND, upstream_id="1" * 64, phone="+14155550100", message="hi")
    lifecycle.apply_status(order, upstream(paid=True, sms_status="created"))
    assert order.status == Status.HELD and order.sms_status == SmsStatus.CREATED
    lifecycle.apply_status(order, upstream(paid=True, sms_status="sent"))
    assert order.status == Status.COMPLETED and order.next_poll_at is not None
    lifecycle.apply_status(order, upstream(paid=True, sms_status="delivered"))
    order.refresh_from_db()
    assert order.sms_status == SmsStatus.DELIVERED
    assert order.next_poll_at is None


def test_send_failed_is_refunded():
    order = make_order(kind=Kind.SEND, upstream_id="2" * 64, phone="+14155550000", message="hi")
    lifecycle.apply_status(order, upstream(paid=True, sms_status="failed"))
    assert order.status == Status.REFUNDED and order.refund_reason == RefundReason.SMS_FAILED


def test_fund_is_completed_when_paid():
    order = make_order(kind=Kind.FUND, upstream_id="3" * 64)
    lifecycle.apply_status(order, upstream(paid=True))
    assert order.status == Status.COMPLETED


def test_cancel_refused_before_two_minutes_and_after_a_code(settings):
    order = make_order(status=Status.WAITING_CODE, paid_at=timezone.now() - timedelta(seconds=30))
    with pytest.raises(lifecycle.CancelRefused, match="2 minutes"):
        lifecycle.request_cancel(order)
    done = make_order(status=Status.COMPLETED, code="1", paid_at=timezone.now() - timedelta(minutes=5))
    with pytest.raises(lifecycle.CancelRefused):
        lifecycle.request_cancel(done)
    send = make_order(kind=Kind.SEND, status=Status.HELD, paid_at=timezone.now() - timedelta(minutes=5))
    with pytest.raises(lifecycle.CancelRefused):
        lifecycle.request_cancel(send)


def test_cancel_after_two_minutes_is_enqueued_not_applied(django_capture_on_commit_callbacks, monkeypatch):
    calls = []
    monkeypatch.setattr("orders.tasks.cancel_order.delay", lambda pk: calls.append(pk))
    order = make_order(status=Status.WAITING_CODE, paid_at=timezone.now() - timedelta(seconds=121))
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.request_cancel(order)
    assert calls == [order.pk]
    order.refresh_from_db()
    assert order.status == Status.WAITING_CODE  # refunded only when upstream confirms


def test_place_order_enqueues_creation_on_commit(django_capture_on_commit_callbacks, monkeypatch):
    calls = []
    monkeypatch.setattr("orders.tasks.create_order.delay", lambda pk: calls.append(pk))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        order = lifecycle.place_order(
            kind=Kind.RECEIVE, quoted_sats=1500, session_key="s", country_code=187, service_code="tg"
        )
    assert calls == []  # nothing before commit
    for callback in callbacks:
        callback()
    assert calls == [order.pk]
    assert order.status == Status.NEW


def test_upstream_cancel_near_the_auto_cancel_counts_as_timeout(settings):
    # We saw the payment a poll late, so sms4sats' 21 minutes end a little before ours.
    settings.AUTO_CANCEL_SECONDS = 60
    settings.AUTO_CANCEL_GRACE_SECONDS = 10
    order = make_order(status=Status.WAITING_CODE, number="1", paid_at=timezone.now() - timedelta(seconds=55))
    lifecycle.apply_status(order, upstream(paid=True, number="1", error="Payment request is canceled."))
    assert order.status == Status.REFUNDED
    assert order.refund_reason == RefundReason.TIMEOUT


def test_upstream_cancel_early_is_labelled_upstream_and_a_requested_cancel_canceled(settings):
    settings.AUTO_CANCEL_SECONDS = 60
    settings.AUTO_CANCEL_GRACE_SECONDS = 10
    early = make_order(status=Status.WAITING_CODE, number="1", paid_at=timezone.now() - timedelta(seconds=5))
    lifecycle.apply_status(early, upstream(paid=True, number="1", error="Payment request is canceled."))
    assert early.refund_reason == RefundReason.UPSTREAM
    asked = make_order(
        status=Status.WAITING_CODE,
        number="1",
        paid_at=timezone.now() - timedelta(seconds=59),
        cancel_requested_at=timezone.now(),
    )
    lifecycle.apply_status(asked, upstream(paid=True, number="1", error="Payment request is canceled."))
    assert asked.refund_reason == RefundReason.CANCELED


def test_invoice_write_is_retried_through_a_short_database_outage(monkeypatch):
    order = make_order(status=Status.CREATING)
    calls = []
    real_accept = lifecycle.accept_invoice

    def flaky_accept(order, upstream_id, payreq):
        calls.append(upstream_id)
        if len(calls) < 3:
            raise lifecycle.DatabaseError("connection refused")
        return real_accept(order, upstream_id, payreq)

    monkeypatch.setattr(lifecycle, "accept_invoice", flaky_accept)
    monkeypatch.setattr(lifecycle.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(lifecycle, "close_old_connections", lambda: None)
    invoice = make_invoice(1500)
    lifecycle.accept_invoice_retrying(order, "9" * 64, invoice)
    assert len(calls) == 3
    order.refresh_from_db()
    assert order.status == Status.UNPAID and order.upstream_id == "9" * 64


def make_invoice(sats):
    from sandbox.invoices import make_invoice as sandbox_invoice

    return sandbox_invoice(sats, "test", timezone.now()).payreq


def test_a_cancel_request_is_recorded_once_and_shown_as_pending(monkeypatch, django_capture_on_commit_callbacks):
    calls = []
    monkeypatch.setattr("orders.tasks.cancel_order.delay", lambda pk: calls.append(pk))
    order = make_order(status=Status.WAITING_CODE, paid_at=timezone.now() - timedelta(seconds=121))
    twin = Order.objects.get(pk=order.pk)  # a second click, from another tab
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.request_cancel(order)
    assert order.cancel_requested_at is not None and not order.can_cancel()
    with pytest.raises(lifecycle.CancelRefused):
        lifecycle.request_cancel(twin)
    assert calls == [order.pk]
    assert order.events.filter(note__startswith="Cancel requested").count() == 1


def test_a_cancel_refused_upstream_can_be_asked_again(monkeypatch):
    from orders.sms4sats import UpstreamRejected

    class RefusingClient:
        def cancel_order(self, order_id):
            raise UpstreamRejected("too early")

        def order_status(self, order_id):
            return upstream(paid=True, number="1")

    order = make_order(
        status=Status.WAITING_CODE,
        number="1",
        upstream_id="7" * 64,
        paid_at=timezone.now() - timedelta(seconds=121),
        cancel_requested_at=timezone.now(),
    )
    lifecycle.cancel_upstream(order.pk, client=RefusingClient())
    order.refresh_from_db()
    assert order.status == Status.WAITING_CODE
    assert order.cancel_requested_at is None and order.can_cancel()
