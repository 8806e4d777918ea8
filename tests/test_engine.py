"""The order engine end to end: a real Celery worker on a real Redis, against the sandbox over HTTP."""

import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from orders import lifecycle, polling
from orders.models import Kind, Order, RefundReason, SmsStatus, Status
from orders.sms4sats import upstream_health
from orders.tasks import create_order, poll_due_orders
from sandbox import control
from sandbox.models import SandboxOrder
from sandbox.wallet import pay_invoice
from tests.factories import make_order
from tests.waiting import polled_again, status_is, until, wait_for, worker_idle


@pytest.fixture
def engine(settings, sandbox_url, celery_worker):
    """Short sandbox delays and a fast poll, so a whole order takes a second or two."""
    settings.SANDBOX_NUMBER_DELAY = 0.3
    settings.SANDBOX_CODE_DELAY = 0.6
    settings.SANDBOX_SMS_SENT_DELAY = 0.3
    settings.SANDBOX_SMS_DELIVERED_DELAY = 0.3
    settings.POLL_FAST_SECONDS = 0.2
    settings.POLL_UNWATCHED_SECONDS = 0.2
    settings.POLL_RENTAL_UNWATCHED_SECONDS = 0.2
    settings.POLL_RECONCILE_SECONDS = 0.5
    settings.POLL_MAX_BACKOFF_SECONDS = 0.5
    control.set_control({})
    yield sandbox_url
    control.set_control({})


def place(kind=Kind.RECEIVE, country=187, service="tg", quoted=None, **fields):
    from sandbox import catalog

    if quoted is None:
        quoted = {
            Kind.RECEIVE: lambda: catalog.receive_price(country, service),
            Kind.RENTAL: lambda: catalog.rental_price(country),
            Kind.SEND: lambda: catalog.SEND_PRICE,
        }.get(kind, lambda: 5000)()
    return lifecycle.place_order(
        kind=kind, quoted_sats=quoted, session_key="test", country_code=country, service_code=service, **fields
    )


def pay(order):
    order = wait_for(order, status_is(Status.UNPAID, Status.FAILED))
    assert order.status == Status.UNPAID, order.failure_reason
    ok, reason = pay_invoice(order.bolt11)
    assert ok, reason
    return order


def test_receive_happy_path(engine):
    order = pay(place())
    assert order.invoice_sats == order.quoted_sats and len(order.payment_hash) == 64
    order = wait_for(order, status_is(Status.COMPLETED))
    assert order.code and order.number
    assert [e.to_status for e in order.events.all()] == [
        Status.NEW,
        Status.CREATING,
        Status.UNPAID,
        Status.HELD,
        Status.WAITING_CODE,
        Status.COMPLETED,
    ]
    assert order.next_poll_at is None


def test_no_number_is_refunded(engine):
    order = wait_for(pay(place(service="nonumber")), status_is(Status.REFUNDED))
    assert order.refund_reason == RefundReason.NO_NUMBER
    assert not order.number


def test_code_never_arrives_refunded_by_timeout(engine, settings):
    settings.SANDBOX_AUTO_CANCEL = 1.5
    settings.AUTO_CANCEL_SECONDS = 1.0  # what we expect of sms4sats; we see the payment a poll late
    order = wait_for(pay(place(service="nocode")), status_is(Status.REFUNDED))
    assert order.refund_reason == RefundReason.TIMEOUT
    assert order.number and not order.code


def test_cancel_refused_before_two_minutes_and_accepted_after(engine, settings):
    settings.SANDBOX_CANCEL_AFTER = 1.5
    settings.CANCEL_AFTER_SECONDS = 1.5
    order = wait_for(pay(place(service="nocode")), status_is(Status.WAITING_CODE))
    with pytest.raises(lifecycle.CancelRefused):
        lifecycle.request_cancel(order)
    until(lambda: timezone.now() >= order.cancel_allowed_at, what="the cancel window")
    lifecycle.request_cancel(order)
    order = wait_for(order, status_is(Status.REFUNDED))
    assert order.refund_reason == RefundReason.CANCELED


def test_upstream_refusing_a_cancel_leaves_the_order_waiting(engine, settings):
    settings.SANDBOX_CANCEL_AFTER = 60
    settings.CANCEL_AFTER_SECONDS = 0  # our clock says yes, sms4sats says no
    order = wait_for(pay(place(service="nocode")), status_is(Status.WAITING_CODE))
    lifecycle.request_cancel(order)
    wait_for(order, lambda o: o.events.filter(note__startswith="sms4sats refused the cancel").exists())
    assert order.status == Status.WAITING_CODE


def test_send_sent_then_delivered(engine):
    order = pay(place(kind=Kind.SEND, country=None, service="", phone="+14155550123", message="Hello"))
    order = wait_for(order, lambda o: o.sms_status == SmsStatus.DELIVERED)
    assert order.status == Status.COMPLETED
    assert order.next_poll_at is None


def test_send_failed_is_refunded(engine):
    order = pay(place(kind=Kind.SEND, country=None, service="", phone="+14155550000", message="Hello"))
    order = wait_for(order, status_is(Status.REFUNDED))
    assert order.refund_reason == RefundReason.SMS_FAILED


def test_send_webhook_makes_the_order_due(engine, client):
    order = place(kind=Kind.SEND, country=None, service="", phone="+14155550123", message="Hello")
    order = wait_for(order, status_is(Status.UNPAID))
    upstream = SandboxOrder.objects.get(order_id=order.upstream_id)
    assert upstream.webhook_url.endswith(f"/hooks/send/{order.public_id}/{order.webhook_secret}")
    Order.objects.filter(pk=order.pk).update(next_poll_at=timezone.now() + timedelta(hours=1))
    assert client.post(f"/hooks/send/{order.public_id}/wrong-secret").status_code == 404
    assert client.post(f"/hooks/send/{order.public_id}/{order.webhook_secret}").status_code == 204
    order.refresh_from_db()
    assert order.next_poll_at <= timezone.now()


def test_a_rental_receives_three_sms_over_time_and_ends_at_its_end_date(engine, settings):
    from sandbox import catalog

    settings.SANDBOX_CODE_DELAY = 0.5
    settings.SANDBOX_RENTAL_SMS_INTERVAL = 3.0  # longer than a poll gap on a busy machine: none skipped
    settings.SANDBOX_RENTAL_SMS_COUNT = 3
    cc = catalog.rental_countries()[0]["cc"]
    order = pay(place(kind=Kind.RENTAL, country=cc, service="full", rental_weeks=2))
    order = wait_for(order, status_is(Status.ACTIVE))
    assert order.number and order.rental_ends_at - order.number_at == timedelta(weeks=2)
    order = wait_for(order, lambda o: o.sms_count >= 3, seconds=90)
    order = wait_for(order, polled_again(order, times=3))  # more polls of the same latest code
    worker_idle()
    order.refresh_from_db()
    codes = [m.code for m in order.messages.order_by("at")]
    assert len(codes) == 3 and len(set(codes)) == 3  # each recorded once
    assert order.sms_count == 3 and order.code == codes[-1]
    assert order.status == Status.ACTIVE and not order.refunded_at  # nothing refunded by the shop
    assert order.events.filter(note="SMS received").count() == 3
    # Its end date passes: one more look at sms4sats, then it ends.
    Order.objects.filter(pk=order.pk).update(rental_ends_at=timezone.now(), next_poll_at=timezone.now())
    order = wait_for(order, status_is(Status.ENDED))
    assert order.next_poll_at is None and order.messages.count() == 3


def test_fund_is_credited(engine):
    from orders.sms4sats import get_client

    before = get_client().balance()
    order = pay(place(kind=Kind.FUND, country=None, service="", quoted=2100))
    wait_for(order, status_is(Status.COMPLETED))
    assert get_client().balance() == before + 2100


def test_payment_after_local_expiry_still_moves_on(engine):
    order = wait_for(place(), status_is(Status.UNPAID))
    # Our clock thinks the invoice expired (skew); sms4sats still takes the payment.
    Order.objects.filter(pk=order.pk).update(invoice_expires_at=timezone.now() - timedelta(seconds=1))
    order = wait_for(order, status_is(Status.EXPIRED))
    assert pay_invoice(order.bolt11)[0]
    order = wait_for(order, status_is(Status.COMPLETED))
    assert Status.EXPIRED in [e.to_status for e in order.events.all()]


def test_upstream_errors_and_timeouts_for_a_while_then_the_order_completes(engine, settings):
    settings.SMS4SATS_TIMEOUT = 0.5
    order = pay(place())
    control.set_control({"error_rate": 1.0})
    for _ in range(5):
        poll_due_orders.delay()
        time.sleep(0.2)
    control.set_control({"slow_seconds": 1.0})
    for _ in range(3):
        poll_due_orders.delay()
        time.sleep(0.4)
    order.refresh_from_db()
    assert upstream_health.is_down()  # one shared view of the outage, not a backoff per order
    assert order.status not in (Status.COMPLETED, Status.REFUNDED)
    control.set_control({})
    order = wait_for(order, status_is(Status.COMPLETED))
    assert order.poll_failures == 0


def test_creation_retries_while_upstream_is_down(engine):
    control.set_control({"error_rate": 1.0})
    order = place()
    wait_for(order, lambda o: o.events.filter(note__contains="retrying").exists())
    control.set_control({})
    order = wait_for(order, status_is(Status.UNPAID))


def test_creation_fails_clearly_after_the_retry_window(engine, settings):
    settings.CREATE_RETRY_SECONDS = 0
    control.set_control({"error_rate": 1.0})
    order = wait_for(place(), status_is(Status.FAILED))
    assert "No money moved" in order.failure_reason


def test_invoice_for_another_amount_is_never_shown(engine):
    order = wait_for(place(quoted=1), status_is(Status.FAILED))
    assert order.bolt11 == ""
    assert "price changed" in order.failure_reason


def test_same_creation_task_twice_creates_one_upstream_order(engine):
    before = SandboxOrder.objects.count()
    order = place()
    for _ in range(3):
        create_order.delay(order.pk)
    threads = [threading.Thread(target=lifecycle.create_upstream, args=(order.pk,)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    order = wait_for(order, status_is(Status.UNPAID))
    worker_idle()  # the three queued tasks have run
    assert SandboxOrder.objects.count() == before + 1
    assert order.events.filter(to_status=Status.CREATING).count() == 1


def test_worker_stopped_in_the_middle_of_a_poll_loses_nothing(engine, monkeypatch):
    order = pay(place())
    # A worker claims the due orders and dies before applying anything.
    monkeypatch.setattr(polling, "CLAIM_SECONDS", 1)
    worker_idle()  # the polls pay() asked for have run: none takes the order before the claim below
    until(lambda: Order.objects.due(timezone.now()).filter(pk=order.pk).exists(), what="the order due")
    claimed = polling.claim_due_orders(100)
    assert order.pk in [o.pk for o in claimed]
    order.refresh_from_db()
    assert order.next_poll_at > timezone.now()
    # After the claim runs out, the next cycle (by the real worker) picks it up again.
    order = wait_for(order, status_is(Status.COMPLETED))
    assert order.code


class LostTasks:
    def send_task(self, *args, **kwargs):
        """The broker never gets the task."""


def test_lost_creation_task_is_enqueued_again_by_the_sweep(engine, monkeypatch, settings):
    with monkeypatch.context() as patch:
        patch.setattr(lifecycle, "current_app", LostTasks())
        order = place()
    worker_idle()  # anything queued has run: the task never reached the broker
    order.refresh_from_db()
    assert order.status == Status.NEW
    settings.CREATE_REQUEUE_SECONDS = 0
    assert polling.sweep()["requeued"] == 1
    order = wait_for(order, status_is(Status.UNPAID))


@pytest.mark.django_db
def test_sweep_fails_a_creation_stuck_mid_call(settings):
    settings.CREATE_STUCK_SECONDS = 0
    order = make_order(Status.CREATING)
    report = polling.sweep()
    order.refresh_from_db()
    assert report["stuck_creating"] == 1
    assert order.status == Status.FAILED
    assert "no money moved" in order.failure_reason
