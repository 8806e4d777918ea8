"""The lifecycle of an order paid from the prepaid balance, against a stand-in sms4sats over real HTTP: what it
sends (immediate, the API key), and honest failures: an answer that is not "paid", a lost answer and a worker
lost mid-call may each have taken the price from the balance, and the order's reason says so. One form's key
places one order, however many requests carry it at once."""

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import IntegrityError, connection

from orders import lifecycle, polling
from orders.models import Kind, Order, Status
from orders.sms4sats import Sms4satsClient
from tests.factories import make_order
from tests.local_servers import SHUTDOWN_POLL_SECONDS

pytestmark = pytest.mark.django_db

ORDER_ID = "cd" * 32
MAYBE_PAID = "sms4sats may have taken the price from the prepaid balance: see the account's balance."


class Upstream(BaseHTTPRequestHandler):
    """Keeps each POST's body and API key, and answers ``server.answer`` (None: closes without answering)."""

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        self.server.requests.append((self.path, body, self.headers.get("X-API-Key")))
        if self.server.answer is None:
            self.close_connection = True
            return
        payload = json.dumps(self.server.answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def upstream():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    server.requests, server.answer = [], None
    threading.Thread(target=server.serve_forever, args=(SHUTDOWN_POLL_SECONDS,), daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def create(order, upstream):
    with Sms4satsClient(base_url=f"http://127.0.0.1:{upstream.server_port}", api_key="the-key", timeout=2) as client:
        lifecycle.create_upstream(order.pk, client)
    order.refresh_from_db()
    return order


def balance_order():
    return make_order(Status.NEW, paid_from_balance=True)


def test_paid_from_balance_goes_straight_to_held(upstream):
    upstream.answer = {"status": "OK", "orderId": ORDER_ID, "payreq": "paid"}
    order = create(balance_order(), upstream)
    [(path, body, key)] = upstream.requests
    assert path == "/createorder" and body["immediate"] is True and key == "the-key"
    assert (body["country"], body["service"]) == (187, "tg")
    assert order.status == Status.HELD
    assert order.upstream_id == ORDER_ID and order.paid_at is not None
    assert not order.bolt11 and order.invoice_sats is None
    event = order.events.get(to_status=Status.HELD)
    assert event.from_status == Status.CREATING
    assert event.note.startswith("Paid from balance")
    assert event.upstream == {"orderId": ORDER_ID, "payreq": "paid"}


def test_a_buyers_order_is_never_immediate(upstream):
    upstream.answer = {"status": "OK", "orderId": ORDER_ID, "payreq": "paid"}
    order = create(make_order(Status.NEW), upstream)
    [(_, body, key)] = upstream.requests
    assert body["immediate"] is False and key is None
    assert order.status == Status.FAILED  # "paid" is no invoice: never shown, never called paid
    assert order.failure_reason == "sms4sats sent an invalid invoice. No money moved."


def test_an_invoice_instead_of_paid_fails_the_order(upstream):
    upstream.answer = {"status": "OK", "orderId": ORDER_ID, "payreq": "lnbcrt15u1pexampleinvoice"}
    order = create(balance_order(), upstream)
    assert order.status == Status.FAILED
    assert order.failure_reason == f"sms4sats answered in an unexpected way. {MAYBE_PAID}"
    assert 'expected "paid"' in order.events.get(to_status=Status.FAILED).note


def test_a_lost_answer_may_have_been_paid_from_the_balance(upstream):
    upstream.answer = None
    order = create(balance_order(), upstream)
    assert len(upstream.requests) == 1  # never repeated
    assert order.status == Status.FAILED
    assert order.failure_reason == f"sms4sats did not answer. {MAYBE_PAID}"


def test_a_worker_lost_mid_call_may_have_paid_from_the_balance(settings):
    settings.CREATE_STUCK_SECONDS = 0
    order = make_order(Status.CREATING, paid_from_balance=True)
    assert polling.sweep()["stuck_creating"] == 1
    order.refresh_from_db()
    assert order.failure_reason == f"The order could not be created. {MAYBE_PAID}"


@pytest.mark.django_db(transaction=True)
def test_one_key_is_one_order_at_sms4sats(upstream):
    """Two requests place the same form at once (threads, each with its own connection: meaningful on
    PostgreSQL): the database keeps one order and queues one creation; sms4sats is asked once."""
    key, start, results = uuid.uuid4(), threading.Barrier(2), []

    def place():
        try:
            start.wait(timeout=10)
            fields = {"country_code": 187, "country_name": "USA", "service_code": "tg", "service_name": "Telegram"}
            results.append(
                lifecycle.place_order(
                    kind=Kind.RECEIVE,
                    quoted_sats=1500,
                    session_key="",
                    paid_from_balance=True,
                    idempotency_key=key,
                    **fields,
                )
            )
        except IntegrityError as exc:
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=place) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(type(result).__name__ for result in results) == ["IntegrityError", "Order"]
    [order] = Order.objects.all()
    assert order.idempotency_key == key and order.events.count() == 1
    upstream.answer = {"status": "OK", "orderId": ORDER_ID, "payreq": "paid"}
    for placed in Order.objects.filter(status=Status.NEW):
        create(placed, upstream)
    assert [path for path, _, _ in upstream.requests] == ["/createorder"]
