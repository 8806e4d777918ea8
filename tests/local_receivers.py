"""Real local servers for the tests that reach outside: an HTTP server in a thread (a JSON receiver of alerts, an
LNURL server for Lightning Addresses) and an SMTP server (aiosmtpd). Each listens on 127.0.0.1, a free port."""

import json
import socket
import threading
import time
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller


class LocalHttpServer:
    """``routes``: {path: (status, body bytes)} for GET; every POST is recorded (path, headers, JSON body) and
    answered with the next status of ``post_statuses`` (200 once they run out)."""

    def __init__(self, routes=None, post_statuses=()):
        self.routes = dict(routes or {})
        self.post_statuses = list(post_statuses)
        self.posts = []
        self.gets = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                owner.gets.append(self.path)
                status, body = owner.routes.get(self.path, (404, b"not found"))
                self._answer(status, body)

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
                owner.posts.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status = owner.post_statuses.pop(0) if owner.post_statuses else 200
                self._answer(status, b"{}")

            def _answer(self, status, body):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # quiet tests
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def wait_for_posts(self, count, seconds=20):
        deadline = time.monotonic() + seconds
        while len(self.posts) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.posts


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


class LocalSmtpServer:
    """aiosmtpd on 127.0.0.1 (no TLS, no login): ``messages`` are the e-mails it received."""

    def __init__(self):
        self.inbox = _Inbox()
        self.port = free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()

    @property
    def messages(self):
        return self.inbox.messages

    def wait_for_messages(self, count, seconds=20):
        deadline = time.monotonic() + seconds
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages


# --- Fixtures (imported by the test modules that use them) ---------------------------------------------


@pytest.fixture
def json_receiver():
    with LocalHttpServer() as server:
        yield server


@pytest.fixture
def smtp_receiver():
    with LocalSmtpServer() as server:
        yield server
