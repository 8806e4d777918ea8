"""Unit tests of the lifecycle: the transition table, compare-and-set, and applying upstream answers."""

from datetime import timedelta

import pytest
from django.utils import timezone

from orders import lifecycle
from orders.lifecycle import ALLOWED, TransitionRefused, transition
from orders.models import Kind, Order, RefundReason, SmsStatus, Status
from tests.factories import make_order
from tests.factories import upstream_status as upstream

pytestmark = pytest.mark.django_db

ALL = list(Status)


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
    for status in (Status.COMPLETED, Status.FAILED):
        assert ALLOWED[status] == set()
    # A refund is final too, except that a code shown by sms4sats means it settled (charged) after all.
    assert ALLOWED[Status.REFUNDED] == {Status.COMPLETED}
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


def test_past_the_auto_cancel_the_order_waits_for_sms4sats_and_its_error_refunds(settings):
    settings.AUTO_CANCEL_SECONDS = 60
    settings.AUTO_CANCEL_GRACE_SECONDS = 10
    order = make_order(
        status=Status.WAITING_CODE,
        upstream_id="f" * 64,
        number="1",
        created_at=timezone.now() - timedelta(seconds=80),
        paid_at=timezone.now() - timedelta(seconds=71),
    )
    # sms4sats still says paid, no code, no error: the shop's clock does not decide the refund.
    lifecycle.apply_status(order, upstream(paid=True, number="1"))
    assert order.status == Status.WAITING_CODE
    assert order.awaiting_confirmation()
    # Only sms4sats' word refunds it.
    lifecycle.apply_status(order, upstream(paid=True, number="1", error="Order canceled, funds returned"))
    assert order.status == Status.REFUNDED
    assert order.refund_reason == RefundReason.TIMEOUT


def test_unreachable_upstream_past_the_deadline_changes_no_money_state(settings):
    from orders import polling
    from orders.sms4sats import UpstreamUnavailable

    settings.AUTO_CANCEL_SECONDS = 60
    settings.AUTO_CANCEL_GRACE_SECONDS = 0
    held = make_order(status=Status.HELD, upstream_id="h" * 64, paid_at=timezone.now() - timedelta(seconds=61))
    unpaid = make_order(upstream_id="u" * 64, invoice_expires_at=timezone.now() - timedelta(hours=1))
    for order in (held, unpaid):
        polling.apply_one(order, UpstreamUnavailable("poll: unreachable"))
        order.refresh_from_db()
        assert order.status in (Status.HELD, Status.UNPAID)
        assert order.awaiting_confirmation()
        # Still asked, at the reconcile pace.
        assert order.next_poll_at >= timezone.now() + timedelta(seconds=settings.POLL_RECONCILE_SECONDS - 5)
    # When sms4sats answers, its late facts are applied: the code arrived, the invoice was paid.
    lifecycle.apply_status(held, upstream(paid=True, number="1", code="777"))
    assert held.status == Status.COMPLETED and held.code == "777"
    lifecycle.apply_status(unpaid, upstream(paid=True))
    assert unpaid.status == Status.HELD


def test_a_code_after_a_refund_completes_the_order():
    order = make_order(status=Status.REFUNDED, upstream_id="r" * 64, refund_reason=RefundReason.TIMEOUT)
    lifecycle.apply_status(order, upstream(paid=True, number="1", code="4242"))
    assert order.status == Status.COMPLETED and order.code == "4242"


def test_reconciling_stops_after_the_horizon_and_flags_the_order(settings):
    settings.RECONCILE_HORIZON_SECONDS = 60
    order = make_order(upstream_id="z" * 64, invoice_expires_at=timezone.now() - timedelta(seconds=61))
    lifecycle.schedule_next_poll(order)
    order.refresh_from_db()
    assert order.status == Status.UNPAID  # never claimed to the buyer
    assert order.next_poll_at is None and order.reconcile_abandoned_at is not None


def test_watched_orders_are_polled_fast_and_unwatched_ones_slower(settings):
    from orders import status_cache

    settings.POLL_UNWATCHED_SECONDS = 15
    watched, unwatched = make_order(upstream_id="w" * 64), make_order(upstream_id="v" * 64)
    status_cache.mark_watched(watched.public_id)
    now = timezone.now()
    lifecycle.schedule_next_polls([watched, unwatched], now=now)
    assert watched.next_poll_at == now + timedelta(seconds=settings.POLL_FAST_SECONDS)
    assert unwatched.next_poll_at == now + timedelta(seconds=15)


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


def test_only_the_operator_cancels_an_order_paid_from_the_balance(django_capture_on_commit_callbacks):
    paid_at = timezone.now() - timedelta(minutes=5)
    order = make_order(status=Status.WAITING_CODE, paid_from_balance=True, paid_at=paid_at)
    with pytest.raises(lifecycle.CancelRefused, match="only the shop can cancel"):
        lifecycle.request_cancel(order)
    with django_capture_on_commit_callbacks():
        lifecycle.request_cancel(order, by="alice")
    order.refresh_from_db()
    assert order.cancel_requested_at is not None


class FakeCelery:
    """Records the tasks the lifecycle sends, by name."""

    def __init__(self):
        self.sent = []

    def send_task(self, name, args=(), countdown=None):
        self.sent.append((name, *args))


def test_cancel_after_two_minutes_is_enqueued_not_applied(django_capture_on_commit_callbacks, monkeypatch):
    celery = FakeCelery()
    monkeypatch.setattr(lifecycle, "current_app", celery)
    order = make_order(status=Status.WAITING_CODE, paid_at=timezone.now() - timedelta(seconds=121))
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.request_cancel(order)
    assert celery.sent == [(lifecycle.CANCEL_TASK, order.pk)]
    order.refresh_from_db()
    assert order.status == Status.WAITING_CODE  # refunded only when upstream confirms


def test_place_order_enqueues_creation_on_commit(django_capture_on_commit_callbacks, monkeypatch):
    celery = FakeCelery()
    monkeypatch.setattr(lifecycle, "current_app", celery)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        order = lifecycle.place_order(
            kind=Kind.RECEIVE, quoted_sats=1500, session_key="s", country_code=187, service_code="tg"
        )
    assert celery.sent == []  # nothing before commit
    for callback in callbacks:
        callback()
    assert celery.sent == [(lifecycle.CREATE_TASK, order.pk)]
    assert order.status == Status.NEW


def test_upstream_cancel_near_the_auto_cancel_counts_as_timeout(settings):
    # We saw the payment a poll late, so sms4sats' 21 minutes end a little before ours.
    settings.AUTO_CANCEL_SECONDS = 60
    settings.AUTO_CANCEL_GRACE_SECONDS = 10
    order = make_order(
        status=Status.WAITING_CODE,
        number="1",
        created_at=timezone.now() - timedelta(seconds=70),
        paid_at=timezone.now() - timedelta(seconds=55),
    )
    lifecycle.apply_status(order, upstream(paid=True, number="1", error="Payment request is canceled."))
    assert order.status == Status.REFUNDED
    assert order.refund_reason == RefundReason.TIMEOUT


def test_upstream_cancel_of_a_payment_seen_late_counts_as_timeout_once_the_auto_cancel_was_possible(settings):
    # sms4sats was unreachable when the buyer paid: we saw the payment only 5 s ago, but it can be as old as the
    # order, and the only documented cancel of an order with a number is the automatic one.
    settings.AUTO_CANCEL_SECONDS = 60
    settings.AUTO_CANCEL_GRACE_SECONDS = 10
    long_ago, just_now = timezone.now() - timedelta(seconds=90), timezone.now() - timedelta(seconds=5)
    late = make_order(status=Status.HELD, created_at=long_ago, paid_at=just_now)
    lifecycle.apply_status(late, upstream(paid=True, number="1", error="Payment request is canceled."))
    assert late.status == Status.REFUNDED and late.refund_reason == RefundReason.TIMEOUT
    # Without a number it is not the automatic cancel of a wait for the code.
    no_number = make_order(status=Status.HELD, created_at=long_ago, paid_at=just_now, upstream_id="n" * 64)
    lifecycle.apply_status(no_number, upstream(paid=True, error="Payment request is canceled."))
    assert no_number.status == Status.REFUNDED and no_number.refund_reason == RefundReason.UPSTREAM


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
    celery = FakeCelery()
    monkeypatch.setattr(lifecycle, "current_app", celery)
    order = make_order(status=Status.WAITING_CODE, paid_at=timezone.now() - timedelta(seconds=121))
    twin = Order.objects.get(pk=order.pk)  # a second click, from another tab
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.request_cancel(order)
    assert order.cancel_requested_at is not None and not order.can_cancel()
    with pytest.raises(lifecycle.CancelRefused):
        lifecycle.request_cancel(twin)
    assert celery.sent == [(lifecycle.CANCEL_TASK, order.pk)]
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


# --- Rentals --------------------------------------------------------------------------------


def make_rental(**fields):
    fields.setdefault("upstream_id", "rent" + "0" * 60)
    fields.setdefault("paid_at", timezone.now())
    return make_order(status=Status.HELD, kind=Kind.RENTAL, rental_weeks=2, **fields)


def test_a_rental_is_active_from_its_number_until_its_weeks_are_over():
    order = make_rental()
    lifecycle.apply_status(order, upstream(paid=True, number="4915123456789"))
    assert order.status == Status.ACTIVE
    assert order.rental_ends_at - order.number_at == timedelta(weeks=2)
    assert order.next_poll_at is not None and order.next_poll_at <= order.rental_ends_at


def test_each_new_sms_of_a_rental_is_kept_once_and_the_rental_stays_active():
    order = make_rental()
    for code in ("1111", "1111", "2222", "2222", "3333"):
        lifecycle.apply_status(order, upstream(paid=True, number="1", code=code))
    assert order.status == Status.ACTIVE and order.code == "3333" and order.sms_count == 3
    assert [m.code for m in order.messages.all()] == ["3333", "2222", "1111"]  # newest first
    assert order.events.filter(note="SMS received").count() == 3


def test_a_rental_ends_at_its_end_date_after_one_last_look():
    order = make_rental()
    lifecycle.apply_status(order, upstream(paid=True, number="1"))
    Order.objects.filter(pk=order.pk).update(rental_ends_at=timezone.now() - timedelta(seconds=1))
    order.refresh_from_db()
    lifecycle.apply_status(order, upstream(paid=True, number="1", code="9999"))
    assert order.status == Status.ENDED and order.next_poll_at is None
    assert order.messages.get().code == "9999"  # the SMS of its last minutes is kept


def test_a_rental_is_never_refunded_by_the_shop_clock(settings):
    settings.AUTO_CANCEL_SECONDS = 1
    order = make_rental(paid_at=timezone.now() - timedelta(hours=1))
    lifecycle.apply_status(order, upstream(paid=True, number="1"))
    lifecycle.apply_status(order, upstream(paid=True, number="1"))
    assert order.status == Status.ACTIVE and not order.awaiting_confirmation()
    with pytest.raises(lifecycle.CancelRefused):
        lifecycle.request_cancel(order)


def test_a_rental_without_a_number_or_canceled_upstream_is_refunded_on_its_word():
    no_number = make_rental()
    lifecycle.apply_status(no_number, upstream(paid=True, error="No available number, payment request is canceled."))
    assert no_number.status == Status.REFUNDED and no_number.refund_reason == RefundReason.NO_NUMBER
    canceled = make_rental(upstream_id="r2" + "0" * 62)
    lifecycle.apply_status(canceled, upstream(paid=True, number="1"))
    lifecycle.apply_status(canceled, upstream(paid=True, number="1", error="Rental canceled"))
    assert canceled.status == Status.REFUNDED and canceled.refund_reason == RefundReason.UPSTREAM


class AnsweringClient:
    def __init__(self, answer):
        self.answer = answer

    def order_status(self, upstream_id):
        return self.answer


def test_the_admin_refresh_applies_what_sms4sats_says_from_any_state_it_can_still_change():
    expired = make_order(status=Status.EXPIRED, upstream_id="x1" + "0" * 62)
    lifecycle.refresh(expired, AnsweringClient(upstream(paid=True, number="1", code="31337")))
    assert expired.status == Status.COMPLETED and expired.code == "31337"
    refunded = make_order(status=Status.REFUNDED, upstream_id="x2" + "0" * 62, refund_reason=RefundReason.TIMEOUT)
    lifecycle.refresh(refunded, AnsweringClient(upstream(paid=True, number="1", code="4711")))
    assert refunded.status == Status.COMPLETED
    send = make_order(status=Status.EXPIRED, kind=Kind.SEND, upstream_id="x3" + "0" * 62, phone="+1", message="m")
    lifecycle.refresh(send, AnsweringClient(upstream(paid=True, sms_status="sent")))
    assert send.status == Status.COMPLETED and send.sms_status == SmsStatus.SENT


# --- Answers applied field by field (issue #23) ---


def parsed(**body):
    """An /orderstatus answer as the client parses it."""
    from orders.sms4sats import parse_order_status

    return parse_order_status({"status": "OK", **body})


BAD_CODES = ["12\u202e34", "12\x0034", "\u200b12 34\u2066", "5" * 65]


@pytest.mark.parametrize("code", BAD_CODES)
def test_a_paid_answer_with_an_odd_code_completes_and_the_buyer_sees_it_safely(code, client):
    order = make_order(upstream_id="d" * 64)
    lifecycle.apply_status(order, parsed(paid=True, number="15550100", code=code))
    order.refresh_from_db()
    assert order.status == Status.COMPLETED and order.paid_at
    assert order.code == code.replace("\x00", "")  # as sent (PostgreSQL stores no NUL)
    shown = {"12\u202e34": "1234", "12\x0034": "1234", "\u200b12 34\u2066": "12 34"}.get(code, code)
    assert order.display_code == shown
    html = client.get(order.get_absolute_url()).content.decode()
    assert f'data-code aria-hidden="true">{shown}</span>' in html and f'data-copy="{shown}"' in html
    assert not {"\u202e", "\u200b", "\u2066", "\x00"} & set(html)


def test_the_admin_shows_the_code_as_sent(admin_client):
    order = make_order(Status.COMPLETED, upstream_id="e" * 64, code="12\u202e34")
    html = admin_client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert "1234 (as sent: 12\\u202e34)" in html and "\u202e" not in html


def test_refused_fields_are_noted_once_and_the_rest_applied():
    order = make_order(upstream_id="f" * 64)
    answer = parsed(paid=True, number="not a number", smsStatus="x" * 20)
    for _ in range(3):
        lifecycle.apply_status(order, answer)
    notes = [e.note for e in order.events.all()]
    assert notes == [
        "sms4sats sent fields the shop cannot use (the rest was applied): number: not a phone number: 'not a number'; "
        f"smsStatus: not an SMS status: {'x' * 20!r}",
        "Payment held",
    ]
    assert order.status == Status.HELD and order.number == ""
    lifecycle.apply_status(order, parsed(paid=True, number="also bad"))  # another refusal: noted too
    assert order.events.count() == 3


def test_an_unreadable_paid_never_expires_an_order():
    order = make_order(upstream_id="9" * 64, invoice_expires_at=timezone.now() - timedelta(minutes=1))
    lifecycle.apply_status(order, parsed(paid="perhaps"))
    order.refresh_from_db()
    assert order.status == Status.UNPAID  # unknown is not "unpaid": sms4sats is asked again
    lifecycle.apply_status(order, parsed(paid=False))
    assert order.status == Status.EXPIRED


def test_an_sms4sats_error_is_stored_as_one_clean_line():
    order = make_order(Status.HELD, upstream_id="8" * 64)
    lifecycle.apply_status(order, parsed(paid=True, error="No\u202e available number\n\x1b"))
    order.refresh_from_db()
    assert order.status == Status.REFUNDED and order.refund_reason == RefundReason.NO_NUMBER
    assert order.upstream_error == "No available number"
    assert order.events.last().note == "Payment canceled upstream: No available number"


def test_a_rental_sms_with_invisible_characters_is_kept_and_shown_safely(client):
    order = make_order(Status.HELD, kind=Kind.RENTAL, upstream_id="7" * 64, rental_weeks=1)
    lifecycle.apply_status(order, parsed(paid=True, number="15550100", code="98\u202e76"))
    assert order.status == Status.ACTIVE
    message = order.messages.get()
    assert message.code == "98\u202e76" and message.display_code == "9876"
    assert "invisible" in order.events.last().note
    html = client.get(order.get_absolute_url()).content.decode()
    assert "9876" in html and "\u202e" not in html
