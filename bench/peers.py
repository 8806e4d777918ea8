#!/usr/bin/env python
"""Slow peers (issue #23): sms4sats, the rates source, a webhook receiver and the referral domain trickle their
answers (one byte every 2 s: httpx's per-read timeouts never fire), and the shop must stay up.

    .venv/bin/python bench/peers.py [--seconds 60] [--keep-logs]

The stack is bench/faults.py's (bench/stack.py: PostgreSQL, a private Redis, gunicorn 2×4 threads, two workers,
the creator, beat; all on 127.0.0.1), with real trickling servers on 127.0.0.1 in front of or instead of each
peer:
- sms4sats: a TCP proxy in front of the sandbox API that, while switched on, passes the answers one byte at a
  time every 2 s;
- the rates source (FIAT_RATES_URL), a webhook endpoint (every order event) and the referral domain
  (SMS4SATS_REF): one HTTP server that reads the request and trickles its answer's headers.

Phases, each checked while it runs (exit 0 when every check passes):
1. sms4sats trickles, catalog cold: 10 buyers open the service lists of 10 countries nobody looked at (the
   pages that held every gunicorn thread). Throughout: ``/ping`` answers within 1 s, ``/healthz`` answers (within
   2 s) and says what is wrong.
2. sms4sats answers again; the rates source, the webhook receiver and the referral domain trickle: orders are
   placed and paid through the pages while the workers refresh the rates and deliver webhooks to the trickler.
   Throughout: ``/ping`` within 1 s; each paid order's page shows its code (polling of orders continues); the
   workers' heartbeat stays fresh (no worker stuck: ``/healthz`` never says ``failing: workers``).
3. ``manage.py sms4sats_check`` with the trickling referral domain ends by itself (within 60 s).

Where outbound calls have no wall-clock deadline yet (sms4sats_site/outbound.py, issue #23 part 1), phase 2's
webhook and rates calls and phase 3 are expected to show it.
"""

import argparse
import contextlib
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import faults  # noqa: E402
from stack import VENV_BIN, Stack, percentile  # noqa: E402

TRICKLE_EVERY = 2.0  # seconds between two bytes of a trickled answer
PING_LIMIT = 1.0
HEALTHZ_LIMIT = 2.0
COLD_COUNTRIES = [6, 7, 10, 12, 15, 22, 32, 36, 48, 52]  # not Auto-Select nor the sandbox's warm ones


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


class TrickleProxy:
    """A TCP proxy to ``target``; while ``trickling`` is set, the answers go back one byte every TRICKLE_EVERY."""

    def __init__(self, target):
        self.target = target
        self.trickling = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]

    def start(self):
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            client, _ = self.listener.accept()
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._pipe, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, True), daemon=True).start()

    def _pipe(self, source, sink, answers):
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                while data and answers and self.trickling.is_set():  # switched off: the rest at once
                    sink.sendall(data[:1])
                    data = data[1:]
                    time.sleep(TRICKLE_EVERY)
                sink.sendall(data)
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


class TrickleServer:
    """Answers every HTTP request with headers that never end: one byte every TRICKLE_EVERY. Counts requests."""

    ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: " + b"x" * 10_000

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.requests = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            conn, _ = self.listener.accept()
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with contextlib.suppress(OSError), conn:
            conn.settimeout(10)
            first = conn.recv(65536).split(b"\r\n", 1)[0]
            self.requests.append((time.monotonic(), first.decode("latin-1")))
            for byte in self.ANSWER:
                conn.sendall(bytes([byte]))
                time.sleep(TRICKLE_EVERY)


class Watch:
    """/ping every 0.25 s and /healthz every 2 s, in threads, while a phase runs."""

    def __init__(self, base_url):
        self.base_url = base_url
        self.ping = []  # seconds, None when it failed or timed out
        self.healthz = []  # (seconds or None, body or error)
        self.stop = threading.Event()

    def __enter__(self):
        self.threads = [
            threading.Thread(target=self._loop, args=("/ping", 0.25, 5), daemon=True),
            threading.Thread(target=self._loop, args=("/healthz", 2.0, 10), daemon=True),
        ]
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(15)

    def _loop(self, path, every, timeout):
        import httpx

        while not self.stop.is_set():
            started = time.monotonic()
            try:
                response = httpx.get(self.base_url + path, timeout=timeout)
                took, body = time.monotonic() - started, response.text
            except httpx.HTTPError as exc:
                took, body = None, type(exc).__name__
            if path == "/ping":
                self.ping.append(took)
            else:
                self.healthz.append((took, body))
            self.stop.wait(max(0.0, every - (time.monotonic() - started)))

    def problems(self, forbid_failing=()):
        problems = []
        answered = [s for s in self.ping if s is not None]
        slow = [s for s in self.ping if s is None or s > PING_LIMIT]
        if slow:
            problems.append(f"/ping over {PING_LIMIT} s (or no answer) {len(slow)} times of {len(self.ping)}")
        if answered:
            log(
                f"  /ping: {len(self.ping)} probes, p50 {percentile(answered, 50) * 1000:.0f} ms, "
                f"max {max(answered) * 1000:.0f} ms"
            )
        late = [h for h in self.healthz if h[0] is None or h[0] > HEALTHZ_LIMIT]
        if late:
            problems.append(f"/healthz over {HEALTHZ_LIMIT} s (or no answer) {len(late)} times of {len(self.healthz)}")
        said = sorted({_healthz_words(body) for _, body in self.healthz})
        log(f"  /healthz said: {said}")
        for word in forbid_failing:
            if any(word in words for words in said):
                problems.append(f"/healthz said {word}")
        return problems


def _healthz_words(body):
    try:
        report = json.loads(body)
    except ValueError:
        return body[:60]
    return f"{report.get('status')}; upstream {report.get('upstream')}"


def _get(url):
    import httpx

    try:
        return httpx.get(url, timeout=5).text
    except httpx.HTTPError:
        return ""


def verdicts(name, problems):
    return faults.verdicts(name, problems)


def phase_sms4sats_trickles(stack, proxy):
    """10 buyers on 10 cold countries' service lists while sms4sats trickles."""
    import httpx
    from django.core.cache import cache

    cache.clear()  # cold: nothing cached, as after a Redis restart
    proxy.trickling.set()
    log("sms4sats trickles; 10 buyers open the service lists of 10 countries nobody looked at")
    codes = []

    def buyer(cc):
        started = time.monotonic()
        try:
            code = httpx.get(f"{stack.base_url}/catalog/services?country={cc}", timeout=60).status_code
        except httpx.HTTPError as exc:
            code = type(exc).__name__
        codes.append((code, round(time.monotonic() - started, 1)))

    with Watch(stack.base_url) as watch, ThreadPoolExecutor(len(COLD_COUNTRIES)) as pool:
        list(pool.map(buyer, COLD_COUNTRIES))
        time.sleep(20)  # keep watching a while after the buyers' answers
    proxy.trickling.clear()
    log(f"  the buyers' answers (status, seconds): {sorted(codes, key=str)}")
    problems = watch.problems()
    problems += [f"a buyer's service list answered {code} after {s} s" for code, s in codes if code != 200]
    return verdicts("sms4sats trickling, catalog cold: /ping within 1 s, /healthz answers, calm pages", problems)


def phase_other_peers_trickle(stack, trickler, seconds, orders=4):
    """Orders placed and paid while the rates source, the webhook receiver and the referral domain trickle."""
    from webhooks.models import Endpoint, EventType

    log("waiting for the shop to see sms4sats answer again (at most 90 s)")
    faults.wait_for(lambda: '"upstream": "ok"' in _get(stack.base_url + "/healthz"), 90, every=1)
    Endpoint.objects.create(url=f"http://127.0.0.1:{trickler.port}/hook", events=list(EventType.values), active=True)
    log(f"rates, webhooks and referral trickle; {orders} orders placed and paid through the pages")
    problems = []
    shown = {}
    with Watch(stack.base_url) as watch:
        browsers = [faults.Browser(stack.base_url) for _ in range(orders)]
        placed = []
        for i, browser in enumerate(browsers):
            try:
                public_id, _ = faults.place_until_invoice(browser, "receive", i)
                faults.pay_on_the_page(browser, public_id)
                placed.append((browser, public_id, time.monotonic()))
            except Exception as exc:  # noqa: BLE001 - said in the report
                problems.append(f"order {i}: {type(exc).__name__}: {exc}")
        for browser, public_id, paid_at in placed:
            html = faults.page_shows_final(browser, public_id, 60) or ""
            order = faults.the_order(public_id)
            if order.code and order.code in html:
                shown[public_id] = round(time.monotonic() - paid_at, 1)
            else:
                problems.append(f"{public_id}: code not on its page within 60 s ({order.status})")
        time.sleep(max(0, seconds - 30))
    log(f"  codes on their pages (s after paying): {sorted(shown.values())}")
    log(f"  trickler requests: {len(trickler.requests)} ({sorted({r for _, r in trickler.requests})[:4]})")
    problems += watch.problems(forbid_failing=("workers",))
    return verdicts("rates, webhooks, referral trickling: polling continues, no worker stuck, /ping 1 s", problems)


def phase_referral_check(stack):
    log("manage.py sms4sats_check with the trickling referral domain")
    started = time.monotonic()
    try:
        subprocess.run(
            [str(VENV_BIN / "python"), "manage.py", "sms4sats_check"],
            cwd=Path(__file__).resolve().parent.parent,
            env=stack.env,
            timeout=60,
            capture_output=True,
        )
        problems = []
    except subprocess.TimeoutExpired:
        problems = ["still running after 60 s (killed)"]
    log(f"  ended after {time.monotonic() - started:.1f} s")
    return verdicts("sms4sats_check with a trickling referral domain ends by itself", problems)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60, help="how long phase 2 watches")
    parser.add_argument("--keep-logs", action="store_true")
    args = parser.parse_args()
    trickler = TrickleServer()
    stack = Stack(
        "peers",
        database_url=faults.DATABASE_URL,
        private_redis=True,
        proxy_upstream=True,
        settings_overrides=faults.SETTINGS_OVERRIDES,
        extra_env={
            **faults.SANDBOX_ENV,
            "SMS4SATS_TIMEOUT": "5",
            "FIAT_RATES_URL": f"http://127.0.0.1:{trickler.port}/ticker",
            "FIAT_RATES_REFRESH_SECONDS": "10",
            "SMS4SATS_REF": f"operator@127.0.0.1:{trickler.port}",
            "REFERRAL_ALLOW_HTTP": "on",
        },
    )
    proxy = TrickleProxy(("127.0.0.1", stack.port))
    stack.upstream = proxy  # the sandbox API behind a proxy that can trickle (Stack points SMS4SATS_API_URL at it)
    results = []
    with stack:
        log(f"logs in {stack.dir}")
        faults.start_shop(stack)
        results.append(phase_sms4sats_trickles(stack, proxy))
        results.append(phase_other_peers_trickle(stack, trickler, args.seconds))
        results.append(phase_referral_check(stack))
        stuck = [label for label in ("worker1", "worker2", "creator", "beat") if stack.procs[label].poll() is not None]
        results.append(verdicts("every worker process still runs", [f"{label} exited" for label in stuck]))
    ok = all(results)
    print("ALL PASS" if ok else "SOME CHECKS FAILED")
    if ok and not args.keep_logs:
        shutil.rmtree(stack.dir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
