"""Real local servers for the tests that reach outside, each on 127.0.0.1 and a free port: an HTTP server in a
thread (webhook and alert receivers, an LNURL server, a rates source, a stand-in sms4sats that must not be
called), a hostile one (trickling, endless, redirecting, odd bytes) and an SMTP server (aiosmtpd)."""

import json
import socket
import threading
import time
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple

import pytest
from aiosmtpd.controller import Controller
from with_redis import free_port

SHUTDOWN_POLL_SECONDS = 0.05


class Received(NamedTuple):
    """One request the server received (unpacks as ``path, headers, body``)."""

    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


class LocalHttpServer:
    """Records every request (``posts``, ``gets``: lists of Received) and answers them:
    a GET from ``routes`` ({path: (status, body bytes[, delay seconds])}; 404 for other paths), a POST with the
    next scripted answer (``answer``; ``post_statuses`` scripts bare statuses), then 200 "ok".
    ``url`` is its address with ``path``: what the shop is given."""

    def __init__(self, routes=None, post_statuses=(), path="/"):
        self.routes = dict(routes or {})
        self.script = []
        self.posts = []
        self.gets = []
        for status in post_statuses:
            self.answer(status)
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                owner.gets.append(Received(self.path, dict(self.headers), b""))
                status, body, *delay = owner.routes.get(self.path, (404, b"not found"))
                self._answer(status, body, {"Content-Type": "application/json"}, *delay)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.posts.append(Received(self.path, dict(self.headers), body))
                status, text, headers, delay = owner.script.pop(0) if owner.script else (200, "ok", {}, 0)
                self._answer(status, text.encode(), headers, delay)

            def _answer(self, status, body, headers, delay=0):
                time.sleep(delay)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the shop gave up waiting (a timeout test)

            def log_message(self, *args):  # quiet tests
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}{path}"
        # shutdown() waits for serve_forever's next look at its flag: every 0.5 s by default, half a second
        # of every test that uses a server.
        self.thread = threading.Thread(target=self.server.serve_forever, args=(SHUTDOWN_POLL_SECONDS,), daemon=True)

    def answer(self, status, text="", headers=None, delay=0):
        """Script the answer to the next POST not yet answered."""
        self.script.append((status, text, headers or {}, delay))

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


class HostileServer:
    """A raw TCP server on 127.0.0.1 that misbehaves the way a peer can, whatever the request (``url`` with
    ``path``). ``behaviour``:
    - "trickle-headers": the status line and headers one byte every ``interval`` seconds, never finished;
    - "trickle-body": proper headers, then the body one byte every ``interval`` seconds, never finished;
    - "endless-body": proper headers (no length), then bytes as fast as the socket takes them;
    - "redirect": a 302 to ``location`` (e.g. another local server);
    - "binary": a 200 with a body of bytes that are neither UTF-8 nor JSON;
    - "broken-chunked": a chunked body whose chunk size line is not hex, then the connection closes.
    ``hits`` counts the connections it accepted."""

    HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"

    def __init__(self, behaviour, interval=0.5, location="", path="/"):
        self.behaviour, self.interval, self.location = behaviour, interval, location
        self.hits = 0
        self.stopped = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}{path}"
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.hits += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn):
        with conn:
            try:
                conn.settimeout(2)
                conn.recv(65536)  # the request (small: a GET or a webhook's POST)
                getattr(self, "_" + self.behaviour.replace("-", "_"))(conn)
            except OSError:
                pass  # the shop hung up: what the tests want

    def _trickle(self, conn, data, give_up_after=8):
        # Hangs up after a few seconds: a test of a shop without deadlines then fails instead of hanging.
        until = time.monotonic() + give_up_after
        for byte in data:
            if self.stopped.wait(self.interval) or time.monotonic() > until:
                return
            conn.sendall(bytes([byte]))

    def _trickle_headers(self, conn):
        self._trickle(conn, self.HEAD + b"X-Filler: " + b"a" * 10_000)

    def _trickle_body(self, conn):
        conn.sendall(self.HEAD + b"Content-Length: 100000\r\n\r\n")
        self._trickle(conn, b"{" * 100_000)

    def _endless_body(self, conn):
        conn.sendall(self.HEAD + b"Connection: close\r\n\r\n")
        block = b"x" * 65536
        while not self.stopped.is_set():
            conn.sendall(block)

    def _redirect(self, conn):
        conn.sendall(f"HTTP/1.1 302 Found\r\nLocation: {self.location}\r\nContent-Length: 0\r\n\r\n".encode())

    def _binary(self, conn):
        body = bytes(range(256)) * 4 + b"\xff\xfe\x00"
        conn.sendall(self.HEAD + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)

    def _broken_chunked(self, conn):
        conn.sendall(self.HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n")

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join(2)
        self.sock.close()


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


# --- Fixtures (conftest.py imports them) ------------------------------------------------------------------------


@pytest.fixture
def json_receiver():
    """A receiver of alerts (json:// targets)."""
    with LocalHttpServer() as server:
        yield server


@pytest.fixture
def receiver():
    """A receiver of the shop's outbound webhooks, at ``receiver.url`` (path /hook)."""
    with LocalHttpServer(path="/hook") as server:
        yield server


@pytest.fixture
def smtp_receiver():
    with LocalSmtpServer() as server:
        yield server
