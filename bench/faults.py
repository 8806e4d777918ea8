#!/usr/bin/env python
"""Infrastructure faults: a batch of orders through the sandbox while Redis restarts, a worker is killed and
the database refuses connections; then check that nothing was lost, doubled or mixed up.

    .venv/bin/python bench/faults.py [--orders 30] [--keep-logs]

What runs (all children of this script, on 127.0.0.1 only, stopped at the end whatever happens):
- PostgreSQL database ``sms4sats_faults`` on 127.0.0.1:5432 (user postgres), created if missing, migrated.
  The shop's processes reach it through a TCP proxy inside this script, so the database can be made to
  refuse connections (the proxy stops listening and cuts every open connection) for a few seconds.
  This script itself (the "buyers" and the checks) talks to PostgreSQL directly.
- a private redis-server on a free port, without persistence: a restart loses the queues and the cache,
  like a crashed Redis without a volume (the worst case).
- gunicorn (the shop and the sandbox upstream), two Celery worker processes, Celery beat.

Timings are shortened by a settings module written to the run directory (``faults_settings.py``, which
imports the real settings): sandbox delays of seconds, a 30 s code timeout, fast polls and sweeps.

Scenarios (cycled over the batch): receive (code arrives), receive with no number, receive with no code
(auto-cancel), receive canceled by the buyer, send (delivered), send that fails, rental, and an invoice
never paid. Orders are placed one by one through ``lifecycle.place_order`` (what the views call) while
the faults happen; the buyers pay with the sandbox wallet as soon as an invoice shows up.

Faults, in order, while orders are in flight: worker 1 killed with SIGKILL (its whole process group) and
started again 3 s later; Redis killed with SIGKILL and started again (empty) 3 s later; the database
refusing connections for 5 s. The web pages are probed throughout (status codes counted).

Checks afterwards (exit 0 when all pass, 1 otherwise):
- none lost: every order placed exists and is in a terminal state;
- the terminal state each scenario should reach (status and refund reason);
- none twice: one sandbox (upstream) order per shop order that got an invoice, no upstream order without
  its shop order, one event per terminal status (one COMPLETED event per completed order), and the
  sandbox's state agrees (completed <-> settled, refunded <-> payment canceled);
- no mix-ups: each order's number and code are its own upstream order's, and the buyer's status page
  (served by gunicorn) shows its own number and code and no other order's.
"""

import argparse
import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack import _die_with_parent, ensure_database, free_port  # noqa: E402

BASE_DIR = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
DATABASE_URL = os.environ.get("FAULTS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sms4sats_faults")
TIME_LIMIT = 280  # seconds for the whole run, setup included (the brief: at most 5 minutes)

SETTINGS_OVERRIDES = """
from sms4sats_site.settings import *  # noqa: F401,F403
from sms4sats_site.settings import CELERY_BEAT_SCHEDULE

POLL_FAST_SECONDS = 1
POLL_MAX_BACKOFF_SECONDS = 4
CREATE_RETRY_SECONDS = 60
CREATE_STUCK_SECONDS = 20
EXPIRY_GRACE_SECONDS = 10
AUTO_CANCEL_SECONDS = 30
AUTO_CANCEL_GRACE_SECONDS = 10
CANCEL_AFTER_SECONDS = 5
ORDER_RATE_PER_IP = ORDER_RATE_PER_SESSION = "10000/m"
CELERY_BEAT_SCHEDULE = {
    **CELERY_BEAT_SCHEDULE,
    "poll-due-orders": {"task": "orders.tasks.poll_due_orders", "schedule": 1.0},
    "sweep-orders": {"task": "orders.tasks.sweep_orders", "schedule": 5.0},
    "heartbeat": {"task": "orders.tasks.heartbeat", "schedule": 5.0},
}
"""

SANDBOX_ENV = {
    "SANDBOX_NUMBER_DELAY": "2",
    "SANDBOX_CODE_DELAY": "3",
    "SANDBOX_SMS_SENT_DELAY": "2",
    "SANDBOX_SMS_DELIVERED_DELAY": "2",
    "SANDBOX_AUTO_CANCEL": "30",
    "SANDBOX_CANCEL_AFTER": "5",
    "SANDBOX_INVOICE_EXPIRY": "25",
}

# scenario -> (expected status, expected refund reasons or None, sms status or None)
SCENARIOS = {
    "receive": ("completed", None, None),
    "no_number": ("refunded", {"no_number"}, None),
    "no_code": ("refunded", {"timeout"}, None),
    "cancel": ("refunded", {"canceled"}, None),
    "send": ("completed", None, "delivered"),
    "send_fails": ("refunded", {"sms_failed"}, None),
    "rental": ("completed", None, None),
    "unpaid": ("expired", None, None),
}
# Outcomes that are not wrong for the buyer (the money went back) but carry a less precise label; shown as WARN.
TOLERATED = {
    ("no_code", "upstream"): "refund reason 'upstream' instead of 'timeout': the shop dates the payment from when "
    "it saw it, so an auto-cancel seen within AUTO_CANCEL_SECONDS of that is not recognised as the timeout",
}
CYCLE = ["receive", "send", "no_number", "receive", "cancel", "rental", "no_code", "send_fails", "receive", "unpaid"]


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# A TCP proxy in front of PostgreSQL, which can refuse connections for a while --------------------------------


class TcpProxy:
    def __init__(self, target):
        self.target = target
        self.port = 0  # chosen by the first bind, then kept across restarts
        self.conns = set()
        self.lock = threading.Lock()
        self.listener = None
        self.accepting = threading.Event()

    def start(self):
        self.listener = socket.create_server(("127.0.0.1", self.port), backlog=128)
        self.port = self.listener.getsockname()[1]
        self.listener.settimeout(0.2)
        self.accepting.set()
        threading.Thread(target=self._accept_loop, args=(self.listener,), daemon=True).start()

    def _accept_loop(self, listener):
        while self.accepting.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
                client.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with self.lock:
                    self.conns.discard(sock)

    def refuse(self):
        """Stop listening (connect() is refused) and cut every open connection, like a database restart."""
        self.accepting.clear()
        self.listener.close()
        with self.lock:
            conns = list(self.conns)
        for sock in conns:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        return len(conns) // 2

    def stop(self):
        self.refuse()


# The stack ----------------------------------------------------------------------------------------------------


class Stack:
    def __init__(self, run_dir):
        self.run_dir = run_dir
        self.procs = {}
        self.redis_port = free_port()
        self.web_port = free_port()
        self.base_url = f"http://127.0.0.1:{self.web_port}"
        pg = urlsplit(DATABASE_URL)
        self.proxy = TcpProxy((pg.hostname or "127.0.0.1", pg.port or 5432))
        self.run_id = uuid.uuid4().hex[:8]
        self.env = None

    def spawn(self, label, argv, env=None):
        out = open(self.run_dir / f"{label}.log", "ab")
        proc = subprocess.Popen(
            argv,
            cwd=BASE_DIR,
            env=env or self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        out.close()
        self.procs[label] = proc
        return proc

    def kill(self, label, sig=signal.SIGKILL):
        proc = self.procs.get(label)
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)

    def start_redis(self):
        from with_redis import redis_server_binary

        argv = [
            redis_server_binary(),
            "--port",
            str(self.redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.run_dir),
            "--protected-mode",
            "yes",
        ]
        self.spawn("redis", argv, env=dict(os.environ))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.redis_port), 0.3) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def start_worker(self, n):
        argv = [
            str(VENV_BIN / "celery"),
            "-A",
            "sms4sats_site",
            "worker",
            "--loglevel",
            "WARNING",
            "--concurrency",
            "2",
            "--without-mingle",
            "--without-gossip",
            "-n",
            f"faults{n}-{self.run_id}@%h",
        ]
        return self.spawn(f"worker{n}", argv)

    def start_beat(self):
        argv = [
            str(VENV_BIN / "celery"),
            "-A",
            "sms4sats_site",
            "beat",
            "--loglevel",
            "WARNING",
            "--schedule",
            str(self.run_dir / "beat-schedule"),
        ]
        return self.spawn("beat", argv)

    def start_web(self):
        argv = [
            str(VENV_BIN / "gunicorn"),
            "sms4sats_site.wsgi",
            "--bind",
            f"127.0.0.1:{self.web_port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--timeout",
            "30",
            "--error-logfile",
            "-",
        ]
        self.spawn("web", argv)
        import httpx

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base_url + "/how-it-works/", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer")

    def setup(self):
        ensure_database(DATABASE_URL)
        self.start_redis()
        self.proxy.start()
        (self.run_dir / "faults_settings.py").write_text(SETTINGS_OVERRIDES)
        proxied = urlunsplit(urlsplit(DATABASE_URL)._replace(netloc=f"postgres@127.0.0.1:{self.proxy.port}"))
        pg = urlsplit(DATABASE_URL)
        if pg.password or (pg.username and pg.username != "postgres"):
            auth = f"{pg.username}:{pg.password}@" if pg.password else f"{pg.username}@"
            proxied = urlunsplit(pg._replace(netloc=f"{auth}127.0.0.1:{self.proxy.port}"))
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("SMS4SATS_", "SANDBOX", "DJANGO_"))}
        self.env = {
            **keep,
            **SANDBOX_ENV,
            "DJANGO_SETTINGS_MODULE": "faults_settings",
            "PYTHONPATH": os.pathsep.join([str(self.run_dir), str(BASE_DIR)]),
            "DATABASE_URL": proxied,
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "PUBLIC_BASE_URL": self.base_url,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SANDBOX": "on",
            "DEBUG": "false",
            "SMS4SATS_TIMEOUT": "5",
            "CELERY_QUEUE": f"sms4sats-faults-{self.run_id}",
            "CACHE_KEY_PREFIX": f"sms4sats-faults-{self.run_id}",
            "LOG_LEVEL": "WARNING",
            "VAR_DIR": str(self.run_dir / "var"),
            "PYTHONUNBUFFERED": "1",
        }
        # This process: the same settings, straight to PostgreSQL (the buyers and the checks are not under test).
        os.environ.clear()
        os.environ.update(self.env, DATABASE_URL=DATABASE_URL)
        sys.path.insert(0, str(self.run_dir))
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", "--noinput", verbosity=0)
        self.start_web()
        self.start_worker(1)
        self.start_worker(2)
        self.start_beat()

    def stop(self):
        for label in list(self.procs):
            if label != "redis":
                self.kill(label, signal.SIGTERM)
        self.kill("redis", signal.SIGTERM)
        with contextlib.suppress(Exception):
            self.proxy.stop()


# The buyers ---------------------------------------------------------------------------------------------------


class Buyers:
    """Place the orders one by one, pay each invoice as it shows up, cancel the "cancel" ones."""

    def __init__(self, count, base_url):
        self.count = count
        self.base_url = base_url
        self.placed = {}  # order pk -> scenario
        self.paid = set()
        self.cancel_asked = set()
        self.errors = Counter()
        self.done = threading.Event()
        self.web_codes = Counter()
        self.phase = "no fault"

    def place(self, scenario, i):
        from django.db import transaction

        from orders import lifecycle
        from orders.models import Kind
        from sandbox import catalog

        fields = dict(session_key=f"faults-buyer-{i}")
        if scenario in ("receive", "no_number", "no_code", "cancel", "unpaid"):
            service = {"no_number": "nonumber", "no_code": "nocode", "cancel": "nocode"}.get(scenario, "tg")
            fields.update(
                kind=Kind.RECEIVE,
                country_code=187,
                service_code=service,
                quoted_sats=catalog.receive_price(187, service),
            )
        elif scenario == "rental":
            cc = catalog.rental_countries()[0]["cc"]
            fields.update(kind=Kind.RENTAL, country_code=cc, service_code="full", quoted_sats=catalog.rental_price(cc))
        else:
            phone = "+14155550000" if scenario == "send_fails" else f"+1415555{1000 + i:04d}"
            fields.update(kind=Kind.SEND, phone=phone, message=f"fault run order {i}", quoted_sats=catalog.SEND_PRICE)
        # As the view does: the row commits even if Redis is down when the creation task is enqueued.
        try:
            with transaction.atomic():
                order = lifecycle.place_order(**fields)
        except Exception as exc:  # Redis down at on_commit: the row is saved; the poll safety net enqueues it
            self.errors[f"place: {type(exc).__module__}.{type(exc).__name__}"] += 1
            from orders.models import Order

            order = Order.objects.filter(session_key=fields["session_key"]).first()
            if order is None:
                raise
        self.placed[order.pk] = scenario

    def act(self):
        from django.db import close_old_connections

        from orders import lifecycle
        from orders.models import Order, Status
        from sandbox.wallet import pay_invoice

        close_old_connections()
        for order in Order.objects.filter(pk__in=list(self.placed)):
            scenario = self.placed[order.pk]
            try:
                if order.status == Status.UNPAID and order.pk not in self.paid and scenario != "unpaid":
                    ok, reason = pay_invoice(order.bolt11)
                    if ok or "already paid" in reason:
                        self.paid.add(order.pk)
                    else:
                        self.errors[f"pay: {reason}"] += 1
                if scenario == "cancel" and order.pk not in self.cancel_asked and order.can_cancel():
                    from django.db import transaction

                    with transaction.atomic():
                        lifecycle.request_cancel(order)
                    self.cancel_asked.add(order.pk)
            except lifecycle.CancelRefused:
                pass
            except Exception as exc:  # Redis down: enqueueing the cancel fails; the buyer tries again
                self.errors[f"buyer: {type(exc).__name__}"] += 1

    def probe_web(self):
        import httpx

        from orders.models import Order

        with contextlib.suppress(Exception):
            order = Order.objects.filter(pk__in=list(self.placed)).order_by("?").first()
            for path in ("/", "/how-it-works/", order.get_absolute_url() if order else "/orders/"):
                try:
                    code = httpx.get(self.base_url + path, timeout=5).status_code
                    self.web_codes[(self.phase, f"{code // 100}xx")] += 1
                except httpx.HTTPError as exc:
                    self.web_codes[(self.phase, type(exc).__name__)] += 1

    def run(self, place_every):
        next_place = time.monotonic()
        i = 0
        while not self.done.is_set():
            if i < self.count and time.monotonic() >= next_place:
                try:
                    self.place(CYCLE[i % len(CYCLE)], i)
                    i += 1
                except Exception as exc:  # the bench's own database access is not under test: retry
                    self.errors[f"place: {type(exc).__name__}"] += 1
                next_place += place_every
            try:
                self.act()
                self.probe_web()
            except Exception as exc:
                self.errors[f"loop: {type(exc).__name__}"] += 1
            time.sleep(0.3)


# The faults ---------------------------------------------------------------------------------------------------


def inject_faults(stack, buyers, log_fault):
    def phase(name, fault=None):
        buyers.phase = name
        if fault:
            log_fault(fault)

    time.sleep(6)
    stack.kill("worker1", signal.SIGKILL)
    phase("worker1 down", "worker1 killed with SIGKILL (its process group)")
    time.sleep(3)
    stack.start_worker(1)
    phase("after worker1 restart", "worker1 started again")
    time.sleep(7)
    stack.kill("redis", signal.SIGKILL)
    phase("Redis down", "Redis killed with SIGKILL (no persistence: queues and cache lost)")
    time.sleep(3)
    stack.start_redis()
    phase("after Redis restart", "Redis started again, empty")
    time.sleep(8)
    cut = stack.proxy.refuse()
    phase("database down", f"database refusing connections ({cut} open connections cut)")
    time.sleep(5)
    stack.proxy.start()
    phase("after database back", "database accepting connections again")
    time.sleep(6)
    stack.kill("worker2", signal.SIGKILL)
    phase("worker2 down", "worker2 killed with SIGKILL")
    time.sleep(2)
    stack.start_worker(2)
    phase("settling", "worker2 started again")


# The checks ---------------------------------------------------------------------------------------------------


def check(buyers, started_at, base_url):
    import httpx
    from django.db.models import Count, F

    from orders.models import TERMINAL_STATUSES, Order, OrderEvent, Status
    from sandbox.models import SandboxOrder

    failures = []
    results = []
    warnings = []
    creation_failures = []

    def verdict(name, problems):
        results.append((name, not problems))
        for problem in problems:
            failures.append(f"{name}: {problem}")

    orders = {o.pk: o for o in Order.objects.filter(pk__in=list(buyers.placed))}
    verdict(
        "none lost: every order placed exists", [f"order pk {pk} missing" for pk in buyers.placed if pk not in orders]
    )
    verdict(
        "every order is in a terminal state",
        [
            f"{o.public_id} ({buyers.placed[o.pk]}) is {o.status}"
            for o in orders.values()
            if o.status not in TERMINAL_STATUSES
        ],
    )

    wrong_state = []
    for o in orders.values():
        scenario = buyers.placed[o.pk]
        status, reasons, sms = SCENARIOS[scenario]
        if o.status == Status.FAILED and not o.events.filter(to_status=Status.UNPAID).exists():
            # docs/design.md ("Order lifecycle", creating -> failed): a creation cut short (worker killed
            # mid-call, database gone before the invoice was saved) is failed by the sweep; the buyer never
            # saw an invoice, so no money moved.
            warnings.append(
                f"{o.public_id} ({scenario}): failed at creation, no invoice shown, no money moved: "
                f"{o.events.last().note}"
            )
            creation_failures.append(o)
            continue
        if o.status == status and (scenario, o.refund_reason) in TOLERATED:
            warnings.append(f"{o.public_id} ({scenario}): {TOLERATED[scenario, o.refund_reason]}")
            continue
        if o.status != status or (reasons and o.refund_reason not in reasons) or (sms and o.sms_status != sms):
            notes = [e.note for e in o.events.all()]
            wrong_state.append(
                f"{o.public_id} ({buyers.placed[o.pk]}): {o.status} {o.refund_reason or ''} "
                f"{o.sms_status or ''}, expected {status} {reasons or ''} {sms or ''}; {notes}"
            )
    verdict("each order reached the terminal state of its scenario", wrong_state)

    # None twice: upstream orders and events.
    run_upstream = SandboxOrder.objects.filter(created_at__gte=started_at)
    upstream_ids = {o.upstream_id for o in orders.values() if o.upstream_id}
    orphans = [s for s in run_upstream if s.order_id not in upstream_ids]
    problems = []
    if len(orphans) > len(creation_failures):
        problems.append(
            f"{len(orphans)} upstream orders without a shop order, only {len(creation_failures)} "
            f"creations cut short: {[s.order_id[:12] for s in orphans]}"
        )
    problems += [f"upstream order {s.order_id[:12]} without a shop order was paid" for s in orphans if s.paid_at]
    verdict("one upstream order per shop order (orphans only from creations cut short, all unpaid)", problems)
    if orphans:
        warnings.append(
            f"{len(orphans)} upstream order(s) left behind by creations cut short, none paid (their invoices expire)"
        )
    events = OrderEvent.objects.filter(order__in=list(orders))
    doubled = (
        events.exclude(from_status=F("to_status")).values("order", "to_status").annotate(n=Count("id")).filter(n__gt=1)
    )
    # A creation that sms4sats refused with a 5xx goes back to NEW and is claimed again (lifecycle's retry):
    # one more NEW and CREATING per retry is the design, not a doubled move.
    retries = dict(
        events.filter(from_status=Status.CREATING, to_status=Status.NEW).values_list("order").annotate(n=Count("id"))
    )
    doubled = [
        d
        for d in doubled
        if not (d["to_status"] in (Status.NEW, Status.CREATING) and d["n"] <= retries.get(d["order"], 0) + 1)
    ]
    verdict(
        "one move per status reached (one COMPLETED event per completed order)",
        [f"order pk {d['order']}: {d['n']} moves to {d['to_status']}" for d in doubled],
    )
    # Changes within a status (SMS sent -> delivered, cancel requested) are recorded once each too.
    repeated = events.filter(from_status=F("to_status")).values("order", "note").annotate(n=Count("id")).filter(n__gt=1)
    verdict(
        "each in-status change recorded once (e.g. one 'SMS delivered')",
        [f"order pk {d['order']}: {d['n']} x {d['note']!r}" for d in repeated],
    )

    by_id = {s.order_id: s for s in run_upstream}
    from sandbox import clock

    now = clock.now()
    mismatch = []
    for o in orders.values():
        s = by_id.get(o.upstream_id)
        if s is None:
            if o.upstream_id:
                mismatch.append(f"{o.public_id}: upstream {o.upstream_id[:12]} not in the sandbox")
            continue
        state = s.state(now)
        settled = state in ("code", "sent", "delivered") or (o.kind == "rental" and state == "code")
        if o.status == Status.COMPLETED and not settled:
            mismatch.append(f"{o.public_id}: completed here, sandbox says {state}")
        if o.status == Status.REFUNDED and not s.refunded(now):
            mismatch.append(f"{o.public_id}: refunded here, sandbox says {state}")
        if o.kind in ("receive", "rental") and o.number and o.number.lstrip("+") != str(s.phone_number):
            mismatch.append(f"{o.public_id}: number {o.number} is not its upstream's {s.phone_number}")
        if o.code and o.code != str(s.sms_code):
            mismatch.append(f"{o.public_id}: code {o.code} is not its upstream's {s.sms_code}")
        if o.status == Status.COMPLETED and o.kind in ("receive", "rental") and not (o.number and o.code):
            mismatch.append(f"{o.public_id}: completed without a number and a code")
    verdict("each order's number, code and outcome are its own upstream order's", mismatch)

    # What each buyer sees: its own number and code on its status page, nobody else's.
    # (A refunded order's page need not repeat its number; a completed one shows its number and code.)
    secrets_of = {o.pk: {x for x in (o.display_number, o.code) if x} for o in orders.values()}
    seen_wrong = []
    with httpx.Client(base_url=base_url, timeout=10) as client:
        for o in orders.values():
            html = client.get(f"/o/{o.public_id}/status").text
            for value in secrets_of[o.pk] if o.status == Status.COMPLETED else ():
                if value not in html:
                    seen_wrong.append(f"{o.public_id}: its own {value} is not on its page")
            for other, values in secrets_of.items():
                if other != o.pk:
                    seen_wrong.extend(f"{o.public_id}: shows order pk {other}'s {v}" for v in values if v in html)
    verdict("each buyer's page shows its own number and code and no other order's", seen_wrong)
    return results, failures, warnings


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=30)
    parser.add_argument("--keep-logs", action="store_true", help="keep var/faults/<run>/ even when all passed")
    args = parser.parse_args()
    t0 = time.monotonic()
    sys.path.insert(0, str(BASE_DIR / "bin"))
    sys.path.insert(0, str(BASE_DIR))
    run_dir = BASE_DIR / "var" / "faults" / time.strftime("%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "var").mkdir(exist_ok=True)
    stack = Stack(run_dir)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("Stopped by SIGTERM."))
    faults = []
    ok = False
    try:
        log(f"starting PostgreSQL proxy, Redis, gunicorn, 2 workers and beat (logs in {run_dir})")
        stack.setup()
        from django.utils import timezone

        started_at = timezone.now()
        log(f"stack up in {time.monotonic() - t0:.0f} s; placing {args.orders} orders, one every 1.2 s")
        buyers = Buyers(args.orders, stack.base_url)
        buyer_thread = threading.Thread(target=buyers.run, args=(1.2,), daemon=True)
        buyer_thread.start()

        def log_fault(text):
            faults.append(text)
            log(f"FAULT: {text}")

        inject_faults(stack, buyers, log_fault)
        # Wait for everything to settle: all placed and terminal, or the time limit.
        from django.db import close_old_connections

        from orders.models import TERMINAL_STATUSES, Order

        while time.monotonic() - t0 < TIME_LIMIT - 25:
            close_old_connections()
            with contextlib.suppress(Exception):
                if len(buyers.placed) == args.orders:
                    open_orders = Order.objects.filter(pk__in=list(buyers.placed)).exclude(status__in=TERMINAL_STATUSES)
                    if not open_orders.exists():
                        break
            time.sleep(1)
        buyers.done.set()
        buyer_thread.join(timeout=10)
        log(f"orders settled after {time.monotonic() - t0:.0f} s; checking")
        results, failures, warnings = check(buyers, started_at, stack.base_url)
        print()
        print(f"Faults injected ({len(faults)}):")
        for fault in faults:
            print(f"  - {fault}")
        outcomes = Counter(
            f"{buyers.placed[o.pk]} -> {o.status}{' ' + o.refund_reason if o.refund_reason else ''}"
            for o in Order.objects.filter(pk__in=list(buyers.placed))
        )
        print(f"Orders ({len(buyers.placed)}): " + ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())))
        print("Web probes (home, how it works, an order page) by phase:")
        phases = list(dict.fromkeys(p for p, _ in buyers.web_codes))
        for name in phases:
            codes = {c: n for (p, c), n in buyers.web_codes.items() if p == name}
            print(f"  {name}: " + ", ".join(f"{c}: {n}" for c, n in sorted(codes.items())))
        if buyers.errors:
            print(f"Buyer-side errors during faults (retried): {dict(buyers.errors)}")
        print("Checks:")
        for name, passed in results:
            print(f"  [{'PASS' if passed else 'FAIL'}] {name}")
        for failure in failures[:40]:
            print(f"    {failure}")
        for warning in warnings:
            print(f"  [WARN] {warning}")
        ok = not failures
        print(
            f"\n{'ALL CHECKS PASSED' if ok else 'SOME CHECKS FAILED'} in {time.monotonic() - t0:.0f} s "
            f"(logs: {run_dir})"
        )
    finally:
        stack.stop()
        left = [label for label, proc in stack.procs.items() if proc.poll() is None]
        log(f"stopped everything{'; still running: ' + ', '.join(left) if left else ''}")
        if ok and not args.keep_logs:
            import shutil

            shutil.rmtree(run_dir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    random.seed()
    sys.exit(main())
