"""Signed outbound webhooks: order events recorded with their change, signed POSTs to a real local receiver,
retries with backoff, the claim, redelivery, and a sandbox order delivered by a real Celery worker."""

import json
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.utils import timezone
from with_redis import free_port

from orders import lifecycle
from orders.models import Kind, Order, SmsStatus, Status
from orders.tasks import poll_due_orders
from sandbox.wallet import pay_invoice
from tests.factories import make_order
from tests.waiting import worker_idle
from webhooks import delivery as sending
from webhooks.events import event_types
from webhooks.models import Attempt, Delivery, Endpoint, Event, EventType

ALL_EVENTS = [choice.value for choice in EventType]


def readme_verify():
    """The verification snippet exactly as docs/integrating.md shows it to operators."""
    readme = (Path(__file__).resolve().parent.parent / "docs" / "integrating.md").read_text()
    after = readme.split("<!-- webhook-verification-snippet -->", 1)[1]
    code = after.split("```python\n", 1)[1].split("```", 1)[0]
    namespace = {}
    exec(code, namespace)
    return namespace["verify_webhook"]


def pay(order):
    assert lifecycle.transition(order, Status.HELD, note="paid", paid_at=timezone.now())


def send_all():
    """What the workers do: one attempt of every due delivery (here, synchronously)."""
    for pk in Delivery.objects.filter(state=Delivery.State.PENDING).values_list("pk", flat=True):
        sending.attempt(pk)


def bodies(receiver):
    return [json.loads(body) for _, _, body in receiver.posts]


# --- which events a change makes -------------------------------------------------------------


@pytest.mark.parametrize(
    "before, to_status, fields, expected",
    [
        ({"status": Status.UNPAID}, Status.HELD, {}, [EventType.ORDER_PAID]),
        ({"status": Status.EXPIRED}, Status.HELD, {}, [EventType.ORDER_PAID]),
        ({"status": Status.HELD}, Status.WAITING_CODE, {"number": "1555"}, []),
        ({"status": Status.WAITING_CODE}, Status.COMPLETED, {"code": "123"}, [EventType.ORDER_COMPLETED]),
        ({"status": Status.HELD}, Status.REFUNDED, {}, [EventType.ORDER_REFUNDED]),
        ({"status": Status.UNPAID}, Status.EXPIRED, {}, [EventType.ORDER_EXPIRED]),
        ({"status": Status.CREATING}, Status.FAILED, {}, [EventType.ORDER_FAILED]),
        ({"status": Status.CREATING}, Status.UNPAID, {}, []),
        ({"status": Status.HELD, "sms_status": SmsStatus.CREATED}, Status.COMPLETED, {"sms_status": SmsStatus.SENT},
         [EventType.ORDER_COMPLETED, EventType.SMS_SENT]),
        ({"status": Status.COMPLETED, "sms_status": SmsStatus.SENT}, Status.COMPLETED,
         {"sms_status": SmsStatus.DELIVERED}, [EventType.SMS_DELIVERED]),
        ({"status": Status.HELD, "sms_status": ""}, Status.COMPLETED, {"sms_status": SmsStatus.DELIVERED},
         [EventType.ORDER_COMPLETED, EventType.SMS_SENT, EventType.SMS_DELIVERED]),
        ({"status": Status.ACTIVE, "sms_count": 2}, Status.ACTIVE, {"sms_count": 3}, [EventType.RENTAL_SMS_RECEIVED]),
        ({"status": Status.HELD}, Status.HELD, {"cancel_requested_at": "now"}, []),
    ],
)  # fmt: skip
def test_event_types(before, to_status, fields, expected):
    order = Order(quoted_sats=1, **before)
    assert event_types(order, to_status, fields) == expected


# --- recording, signing, sending ---------------------------------------------------------------


def test_signature_verifies_with_the_readme_snippet(db, receiver):
    endpoint = Endpoint.objects.create(url=receiver.url, events=ALL_EVENTS)
    order = make_order(Status.UNPAID)
    pay(order)
    event = Event.objects.get()
    assert Delivery.objects.get().next_attempt_at is not None  # the row exists before any HTTP
    assert receiver.posts == []

    send_all()
    assert len(receiver.posts) == 1
    path, headers, body = receiver.posts[0]
    assert path == "/hook" and headers["Content-Type"] == "application/json"
    assert headers["Webhook-Id"] == str(event.public_id)
    verify = readme_verify()
    signature = headers["Webhook-Signature"]
    assert verify(endpoint.secret, body, signature)
    assert not verify(endpoint.secret + "x", body, signature)
    assert not verify(endpoint.secret, body.replace(b'"held"', b'"completed"'), signature)
    assert not verify(endpoint.secret, body, "v1=" + signature.partition("v1=")[2])  # no timestamp
    old = int(time.time()) - 3600
    stale = f"t={old},v1={sending.signature(endpoint.secret, old, body.decode())}"
    assert not verify(endpoint.secret, body, stale)  # a replay an hour later

    sent = json.loads(body)
    assert sent["id"] == str(event.public_id) and sent["type"] == "order.paid"
    data = sent["data"]
    assert data["public_id"] == str(order.public_id) and data["status"] == "held" and data["amount_sats"] == 1500
    assert data["service_name"] == "Telegram" and data["country_code"] == 187 and data["paid_at"]
    assert data["admin_url"].endswith(f"/admin/orders/order/{order.pk}/change/")
    for personal in ("number", "code", "phone", "message", "bolt11"):
        assert personal not in data
    assert Delivery.objects.get().state == Delivery.State.DELIVERED


def test_only_subscribed_events_to_active_endpoints(db, receiver):
    Endpoint.objects.create(url=receiver.url + "?completed", events=[EventType.ORDER_COMPLETED])
    Endpoint.objects.create(url=receiver.url + "?inactive", events=ALL_EVENTS, active=False)
    order = make_order(Status.UNPAID)
    pay(order)
    lifecycle.transition(order, Status.WAITING_CODE, number="15550001", number_at=timezone.now())
    lifecycle.transition(order, Status.COMPLETED, code="12345", completed_at=timezone.now())
    send_all()
    assert [(path, body["type"]) for (path, _, _), body in zip(receiver.posts, bodies(receiver), strict=True)] == [
        ("/hook?completed", "order.completed")
    ]
    assert Delivery.objects.count() == 1 and Event.objects.count() == 1
    assert "12345" not in receiver.posts[0][2].decode()  # the code stays in the shop


def test_no_endpoint_no_event(db):
    pay(make_order(Status.UNPAID))
    assert not Event.objects.exists()


def test_rental_sms_and_send_order_events(db, receiver):
    Endpoint.objects.create(url=receiver.url, events=ALL_EVENTS)
    rental = make_order(Status.ACTIVE, Kind.RENTAL, number="15550001")
    assert lifecycle.record_rental_sms(rental, "111", {"code": "111"}, timezone.now())
    assert not lifecycle.record_rental_sms(rental, "111", {"code": "111"}, timezone.now())  # seen again: once
    sms = make_order(Status.HELD, Kind.SEND, sms_status=SmsStatus.CREATED)
    lifecycle.transition(sms, Status.COMPLETED, sms_status=SmsStatus.SENT, completed_at=timezone.now())
    lifecycle.record_change(sms, note="SMS delivered", sms_status=SmsStatus.DELIVERED)
    send_all()
    sent = sorted((body["data"]["kind"], body["type"]) for body in bodies(receiver))
    assert sent == [
        ("rental", "order.rental_sms_received"),
        ("send", "order.completed"),
        ("send", "order.sms_delivered"),
        ("send", "order.sms_sent"),
    ]
    rental_body = next(body for body in bodies(receiver) if body["data"]["kind"] == "rental")
    assert rental_body["data"]["sms_count"] == 1 and "111" not in json.dumps(rental_body)


def test_a_failure_is_retried_with_backoff_then_given_up(db, receiver, settings):
    settings.WEBHOOK_RETRY_DELAYS = (30, 60)
    Endpoint.objects.create(url=receiver.url, events=ALL_EVENTS)
    pay(make_order(Status.UNPAID))
    delivery = Delivery.objects.get()
    for _ in range(3):
        receiver.answer(503, "down for maintenance")
    before = timezone.now()
    send_all()
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.PENDING and delivery.attempts == 1
    assert timedelta(seconds=29) < delivery.next_attempt_at - before < timedelta(seconds=32)
    assert sending.attempt(delivery.pk) is None  # not due yet: nothing sent
    assert sending.enqueue_due() == 0
    for _ in range(2):
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())  # the time has come
        sending.attempt(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.FAILED and delivery.next_attempt_at is None
    log = list(delivery.log.all())
    assert [(a.number, a.status_code, a.error, a.succeeded) for a in log] == [
        (n, 503, "HTTP 503", False) for n in (1, 2, 3)
    ]
    assert log[0].response_excerpt == "down for maintenance"
    assert len({headers["Webhook-Id"] for _, headers, _ in receiver.posts}) == 1


def test_an_attempt_is_claimed_once(db, receiver):
    Endpoint.objects.create(url=receiver.url, events=ALL_EVENTS)
    pay(make_order(Status.UNPAID))
    delivery = Delivery.objects.get()
    now = timezone.now()
    first = sending.claim(delivery.pk, now)
    assert first is not None and first.attempts == 1
    assert sending.claim(delivery.pk, now) is None  # the other worker's claim of the same attempt loses
    delivery.refresh_from_db()
    assert delivery.attempts == 1 and delivery.next_attempt_at > now  # leased: due again only if this worker dies
    assert receiver.posts == []


def test_redirects_are_not_followed_and_answers_are_cut(db, receiver):
    Endpoint.objects.create(url=receiver.url, events=ALL_EVENTS)
    pay(make_order(Status.UNPAID))
    delivery = Delivery.objects.get()
    receiver.answer(302, "", {"Location": receiver.url + "?elsewhere"})
    receiver.answer(200, "y" * 50_000)
    sending.attempt(delivery.pk)
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    sending.attempt(delivery.pk)
    assert [path for path, _, _ in receiver.posts] == ["/hook", "/hook"]  # never to the Location
    redirect, accepted = delivery.log.all()
    assert redirect.status_code == 302 and "redirect" in redirect.error and not redirect.succeeded
    assert accepted.succeeded and accepted.response_excerpt == "y" * 300


def test_unreachable_and_slow_receivers(db, receiver, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    dead = Endpoint.objects.create(url=f"http://127.0.0.1:{free_port()}/hook", events=ALL_EVENTS)
    slow = Endpoint.objects.create(url=receiver.url, events=ALL_EVENTS)
    receiver.answer(200, "late", delay=2)
    first, second = make_order(Status.UNPAID), make_order(Status.UNPAID)
    pay(first)
    pay(second)
    started = time.monotonic()
    to_dead = Delivery.objects.filter(endpoint=dead).order_by("pk")
    sending.attempt(to_dead[0].pk)
    sending.attempt(Delivery.objects.filter(endpoint=slow).order_by("pk")[0].pk)
    assert time.monotonic() - started < 2  # the slow receiver did not hold the worker
    refused, timed_out = Attempt.objects.order_by("pk")
    assert refused.status_code is None and "ConnectError" in refused.error
    assert timed_out.status_code is None and "timed out" in timed_out.error
    # The dead endpoint's other delivery waits for the same retry instead of costing another attempt now.
    retry_at = to_dead[0].next_attempt_at
    assert retry_at > timezone.now() + timedelta(seconds=25)
    assert to_dead[1].next_attempt_at == retry_at and to_dead[1].attempts == 0


def test_redeliver_sends_the_same_event_again(db, receiver):
    endpoint = Endpoint.objects.create(url=receiver.url, events=ALL_EVENTS)
    pay(make_order(Status.UNPAID))
    send_all()
    first = Delivery.objects.get()
    again = sending.redeliver(first)
    assert again.pk != first.pk and again.state == Delivery.State.PENDING
    sending.attempt(again.pk)
    (_, one, body_one), (_, two, body_two) = receiver.posts
    assert one["Webhook-Id"] == two["Webhook-Id"] == str(first.event.public_id)
    assert body_one == body_two
    assert readme_verify()(endpoint.secret, body_two, two["Webhook-Signature"])
    endpoint.active = False
    endpoint.save()
    with pytest.raises(sending.RedeliverRefused):
        sending.redeliver(Delivery.objects.get(pk=first.pk))


def test_an_inactive_endpoint_pauses_its_deliveries(db, receiver):
    endpoint = Endpoint.objects.create(url=receiver.url, events=ALL_EVENTS)
    pay(make_order(Status.UNPAID))
    endpoint.active = False
    endpoint.save()
    assert sending.enqueue_due() == 0
    send_all()
    assert receiver.posts == []
    endpoint.active = True
    endpoint.save()
    send_all()
    assert len(receiver.posts) == 1


# --- with a real worker ------------------------------------------------------------------------


def test_500_then_200_with_a_worker(receiver, celery_worker, settings):
    settings.WEBHOOK_RETRY_DELAYS = (0, 0)
    Endpoint.objects.create(url=receiver.url, events=[EventType.ORDER_PAID])
    receiver.answer(500, "oops")
    pay(make_order(Status.UNPAID))  # committed: the delivery task goes to the worker
    assert len(receiver.wait_for_posts(1)) >= 1
    delivery = Delivery.objects.get()
    deadline = time.monotonic() + 10
    while not delivery.log.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sending.enqueue_due() == 1  # the beat sweep finds the retry due
    assert len(receiver.wait_for_posts(2)) >= 2
    deadline = time.monotonic() + 10
    while delivery.state != Delivery.State.DELIVERED and time.monotonic() < deadline:
        time.sleep(0.05)
        delivery.refresh_from_db()
    assert delivery.state == Delivery.State.DELIVERED
    assert [(a.number, a.status_code, a.succeeded) for a in delivery.log.all()] == [(1, 500, False), (2, 200, True)]
    assert receiver.posts[0][1]["Webhook-Id"] == receiver.posts[1][1]["Webhook-Id"]


def test_a_sandbox_order_delivers_paid_and_completed_once(receiver, shop, settings):
    from sandbox import catalog

    settings.POLL_UNWATCHED_SECONDS = 0.3
    Endpoint.objects.create(
        url=receiver.url, events=[EventType.ORDER_PAID, EventType.ORDER_COMPLETED, EventType.ORDER_REFUNDED]
    )
    order = lifecycle.place_order(
        kind=Kind.RECEIVE,
        quoted_sats=catalog.receive_price(187, "tg"),
        session_key="t",
        country_code=187,
        service_code="tg",
    )
    deadline = time.monotonic() + 20
    while not order.bolt11 and time.monotonic() < deadline:
        time.sleep(0.1)
        order.refresh_from_db()
    ok, reason = pay_invoice(order.bolt11)
    assert ok, reason
    assert len(receiver.wait_for_posts(2, seconds=30)) >= 2
    for _ in range(2):  # more poll cycles after completion: no more events
        poll_due_orders.delay()
    sending.enqueue_due()
    worker_idle()  # the cycles and any delivery they enqueued have run
    assert [body["type"] for body in bodies(receiver)] == ["order.paid", "order.completed"]
    order.refresh_from_db()
    assert order.status == Status.COMPLETED
    assert {body["data"]["public_id"] for body in bodies(receiver)} == {str(order.public_id)}
    assert len({body["id"] for body in bodies(receiver)}) == 2


def test_the_log_is_purged_after_its_retention(db, receiver):
    Endpoint.objects.create(url=receiver.url, events=ALL_EVENTS)
    for _ in range(3):
        pay(make_order(Status.UNPAID))
    send_all()
    old_delivered, old_pending, recent = Event.objects.order_by("pk")
    Event.objects.filter(pk__in=[old_delivered.pk, old_pending.pk]).update(
        created_at=timezone.now() - timedelta(days=31)
    )
    Delivery.objects.filter(event=old_pending).update(state=Delivery.State.PENDING)
    assert sending.purge_log(30, batch=1) == 1
    assert set(Event.objects.values_list("pk", flat=True)) == {old_pending.pk, recent.pk}
    assert not Attempt.objects.filter(delivery__event=old_delivered.pk).exists()
    assert Attempt.objects.count() == 2


def test_workers_racing_for_one_attempt_send_it_once(transactional_db, receiver):
    Endpoint.objects.create(url=receiver.url, events=ALL_EVENTS)
    pay(make_order(Status.UNPAID))
    delivery = Delivery.objects.get()
    receiver.answer(200, "ok", delay=0.3)
    start = threading.Barrier(4)

    def worker():
        start.wait()
        try:
            sending.attempt(delivery.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert len(receiver.posts) == 1
    delivery.refresh_from_db()
    assert delivery.attempts == 1 and delivery.state == Delivery.State.DELIVERED
    assert delivery.log.count() == 1


def test_a_rolled_back_change_records_and_sends_nothing(db, receiver, django_capture_on_commit_callbacks):
    Endpoint.objects.create(url=receiver.url, events=ALL_EVENTS)
    order = make_order(Status.UNPAID)
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError):
        with transaction.atomic():
            pay(order)
            assert Delivery.objects.count() == 1  # recorded with the change...
            raise RuntimeError("the caller's transaction fails")
    assert not Event.objects.exists() and not Delivery.objects.exists()  # ...and gone with it
    assert callbacks == []  # nothing enqueued
    assert Order.objects.get(pk=order.pk).status == Status.UNPAID
