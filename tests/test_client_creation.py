"""Ambiguous creation failures, over real HTTP: a create is repeated only when sms4sats surely has no order
from the first request. A stand-in upstream that takes the POST and then loses the answer (connection
closed or reset after the request, a proxy's 502) must see exactly one create call."""

import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction

from orders import lifecycle
from orders.models import Status
from orders.sms4sats import Sms4satsClient, UpstreamUnavailable
from tests.factories import make_order
from tests.local_servers import SHUTDOWN_POLL_SECONDS

pytestmark = pytest.mark.django_db


class Upstream(BaseHTTPRequestHandler):
    """Counts POST /createorder and answers as ``server.behaviour`` says."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.creates += 1
        behaviour = self.server.behaviour
        if behaviour == "close":  # the request arrived; the connection closes with no answer
            self.close_connection = True
        elif behaviour == "reset":  # the request arrived; the connection is reset (RST) with no answer
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
        elif behaviour == "proxy_502":
            self.answer(502, b"<html><body>502 Bad Gateway</body></html>", "text/html")
        elif behaviour == "sms4sats_500":
            self.answer(500, b'{"status": "error", "reason": "backend error"}', "application/json")

    def answer(self, status, body, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def upstream():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    server.creates, server.behaviour = 0, None
    thread = threading.Thread(target=server.serve_forever, args=(SHUTDOWN_POLL_SECONDS,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def new_order():
    return make_order(Status.NEW)


def create_retrying_at_once(order, url, monkeypatch, capture):
    """Run the creation; any retry the lifecycle schedules runs at once on the same upstream."""
    client = Sms4satsClient(base_url=url, timeout=2)

    def enqueue_on_commit(task_name, order_pk, countdown=None):
        assert task_name == lifecycle.CREATE_TASK
        transaction.on_commit(lambda: lifecycle.create_upstream(order_pk, client))

    monkeypatch.setattr(lifecycle, "enqueue_on_commit", enqueue_on_commit)
    with capture(execute=True):
        lifecycle.create_upstream(order.pk, client)
    client.close()
    order.refresh_from_db()
    return order


@pytest.mark.parametrize("behaviour", ["close", "reset", "proxy_502"])
def test_sent_without_an_answer_is_created_once_and_fails_honestly(
    behaviour, upstream, monkeypatch, django_capture_on_commit_callbacks
):
    upstream.behaviour = behaviour
    url = f"http://127.0.0.1:{upstream.server_port}"
    order = create_retrying_at_once(new_order(), url, monkeypatch, django_capture_on_commit_callbacks)
    assert upstream.creates == 1
    assert order.status == Status.FAILED
    assert order.failure_reason == "sms4sats did not answer. No invoice was shown and no money moved."
    assert order.events.filter(note__startswith="Creation sent, no answer").exists()


def test_the_client_says_whether_the_answer_was_lost(upstream):
    url = f"http://127.0.0.1:{upstream.server_port}"
    with Sms4satsClient(base_url=url, timeout=2) as client:
        for behaviour, lost in (("close", True), ("reset", True), ("proxy_502", True), ("sms4sats_500", False)):
            upstream.behaviour = behaviour
            with pytest.raises(UpstreamUnavailable) as info:
                client.create_order(187, "tg")
            assert info.value.request_sent is True
            assert info.value.answer_lost is lost, behaviour
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        nothing = f"http://127.0.0.1:{sock.getsockname()[1]}"  # bound, not listening: refused
        with Sms4satsClient(base_url=nothing, timeout=2) as client, pytest.raises(UpstreamUnavailable) as info:
            client.create_order(187, "tg")
    assert info.value.request_sent is False and not info.value.answer_lost
    with Sms4satsClient(base_url="http://sms4sats.invalid", timeout=2) as client:  # DNS: no such name
        with pytest.raises(UpstreamUnavailable) as info:
            client.create_order(187, "tg")
    assert info.value.request_sent is False


def test_sms4sats_own_error_answer_is_retried(upstream, django_capture_on_commit_callbacks):
    """sms4sats answered that it failed: it has no order from that request, so trying again is safe."""
    upstream.behaviour = "sms4sats_500"
    order = new_order()
    client = Sms4satsClient(base_url=f"http://127.0.0.1:{upstream.server_port}", timeout=2)
    with django_capture_on_commit_callbacks() as callbacks:
        lifecycle.create_upstream(order.pk, client)
    client.close()
    order.refresh_from_db()
    assert order.status == Status.NEW and upstream.creates == 1
    assert order.events.filter(note__contains="retrying").exists()
    assert callbacks  # the retry is scheduled


def test_connection_refused_is_retried(django_capture_on_commit_callbacks):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        order = new_order()
        client = Sms4satsClient(base_url=f"http://127.0.0.1:{sock.getsockname()[1]}", timeout=2)
        with django_capture_on_commit_callbacks():
            lifecycle.create_upstream(order.pk, client)
        client.close()
    order.refresh_from_db()
    assert order.status == Status.NEW
    assert order.events.filter(note__contains="retrying").exists()
