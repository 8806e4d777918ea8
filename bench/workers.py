#!/usr/bin/env python
"""Workers at scale: N active receive orders (default 2,000) whose codes arrive spread over a few minutes,
polled by real Celery workers and beat against the sandbox served by gunicorn.

    .venv/bin/python bench/workers.py [--orders 2000] [--spread 150] [--batch N] [--watched] [--parallel-cycles N]
    .venv/bin/python bench/workers.py --orders 20000 --watched-count 2000 --workers 2 --concurrency 1

--watched: every order's page is open. The buyer's status poll marks its order as watched in Redis every
STATUS_POLL_SECONDS (status_cache.poll: SET order-watched:<id> 1 EX ORDER_WATCH_SECONDS); a thread here sets
the same key the same way for every order not yet completed (a completed order's page got its 286 and
stopped polling), so the engine polls them at POLL_FAST_SECONDS. Target: p95 lag <= 3 s, none lost.
Without it no page is open: the orders are polled every POLL_UNWATCHED_SECONDS, and the lag is checked
against that bound: POLL_UNWATCHED_SECONDS + the beat period + the p95 poll cycle duration.
--watched-count N: the pages of N orders (a random sample) are open, the others not; each group's lag is
reported and checked against its own target (watched p95 <= 3 s, unwatched within the bound above).
--workers K: K Celery workers, each its own node with its own log and --concurrency processes, as on K
machines (they share the queue, the database and the poll cycle's lock, like separate machines would).

Every order is paid and has its number when the run starts; its code becomes available (by the sandbox's
timeline) at a moment spread evenly over --spread seconds. Reported: the lag from that moment to the shop's
row being updated (completed_at), p50/p95/max; whether every order completed (none lost); the poll cycles'
durations (from the worker log); the workers' CPU and peak memory (psutil, the whole process tree), and
the CPU of gunicorn (which serves the sandbox, i.e. the simulated upstream, on the same 2 cores).
"""

import argparse
import ast
import random
import re
import statistics
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack import (
    CELERY_CONCURRENCY,
    GUNICORN_THREADS,
    GUNICORN_WORKERS,
    Stack,
    machine_line,
    make_active_receive_orders,
    percentile,
    reset_orders,
)  # noqa: E402

NUMBER_DELAY = 1
CODE_DELAY = 200  # every order was paid < 5 minutes before its code: the shop polls it at the fast rate
FIRST_CODE_AFTER = 20  # seconds after the start (workers warm, first cycles done)
WATCHED_TARGET_SECONDS = 3.0
CYCLE_LINE = re.compile(rb"poll_due_orders\[[^\]]+\] succeeded in ([0-9.]+)s: (\{[^}]*\})")


class Sampler:
    """CPU seconds and peak resident memory of process trees, sampled every ``interval`` seconds."""

    def __init__(self, stack, labels):
        self.stack = stack
        self.labels = labels
        self.cpu = {label: {} for label in labels}  # label -> {pid: last cpu seconds}
        self.peak_rss = dict.fromkeys(labels, 0)
        self.peak_proc_rss = dict.fromkeys(labels, 0)

    def sample(self):
        import psutil

        for label in self.labels:
            total_rss = 0
            for proc in self.stack.process_tree(label):
                try:
                    times = proc.cpu_times()
                    rss = proc.memory_info().rss
                except psutil.Error:
                    continue
                self.cpu[label][proc.pid] = times.user + times.system
                total_rss += rss
                self.peak_proc_rss[label] = max(self.peak_proc_rss[label], rss)
            self.peak_rss[label] = max(self.peak_rss[label], total_rss)

    def cpu_seconds(self, label):
        return sum(self.cpu[label].values())


class PagesOpen(threading.Thread):
    """Every order's page open: its status poll marks the order as watched every STATUS_POLL_SECONDS, as
    status_cache.poll does (same key, value and expiry; one pipeline for all of them instead of a request
    each, which would measure gunicorn rather than the engine). Stops marking an order once it completed."""

    def __init__(self, public_ids=None):
        super().__init__(daemon=True)
        self.stopped = threading.Event()
        self.rounds = 0
        self.public_ids = public_ids  # the open pages (None: every order's)

    def mark_once(self):
        from django.conf import settings

        from orders import status_cache
        from orders.models import Order, Status
        from sms4sats_site.shared_redis import shared_redis

        open_pages = Order.objects.exclude(status=Status.COMPLETED)
        if self.public_ids is not None:
            open_pages = open_pages.filter(public_id__in=self.public_ids)
        open_pages = open_pages.values_list("public_id", flat=True)
        pipe = shared_redis().pipeline(transaction=False)
        for public_id in open_pages:
            pipe.set(status_cache.watch_key(public_id), 1, ex=settings.ORDER_WATCH_SECONDS)
        pipe.execute()
        self.rounds += 1

    def run(self):
        from django.conf import settings
        from django.db import connection

        try:
            while not self.stopped.is_set():
                self.mark_once()
                self.stopped.wait(settings.STATUS_POLL_SECONDS)
        finally:
            connection.close()


def verdict(ok, text):
    print(f"{'PASS' if ok else 'FAIL'}: {text}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--spread", type=float, default=150, help="seconds over which the codes arrive")
    parser.add_argument("--batch", type=int, default=None, help="POLL_BATCH_SIZE for the workers (default: settings)")
    parser.add_argument(
        "--concurrency", type=int, default=CELERY_CONCURRENCY, help="processes per Celery worker (prefork)"
    )
    parser.add_argument("--workers", type=int, default=1, help="Celery workers, each its own node (as machines)")
    parser.add_argument(
        "--poll-concurrency",
        type=int,
        default=None,
        help="POLL_CONCURRENCY (upstream calls in flight per cycle; default: settings)",
    )
    parser.add_argument(
        "--parallel-cycles",
        type=int,
        default=None,
        help="POLL_PARALLEL_CYCLES (poll cycles at once across the workers; default: settings)",
    )
    parser.add_argument(
        "--sandbox-processes",
        type=int,
        default=GUNICORN_WORKERS,
        help="gunicorn processes serving the sandbox, the simulated sms4sats (default: the Procfile's web, "
        f"{GUNICORN_WORKERS} x {GUNICORN_THREADS} threads; the threads are set so that processes x threads stays 8)",
    )
    parser.add_argument("--tail", type=float, default=60, help="seconds to wait after the last code before giving up")
    parser.add_argument("--watched", action="store_true", help="every order's page open (its status poll running)")
    parser.add_argument(
        "--watched-count", type=int, default=None, help="this many orders' pages open (a random sample), the rest not"
    )
    args = parser.parse_args()
    if args.watched:
        args.watched_count = args.orders
    watched_count = min(args.watched_count or 0, args.orders)

    print(machine_line(), flush=True)
    web_env = {"SANDBOX_NUMBER_DELAY": str(NUMBER_DELAY), "SANDBOX_CODE_DELAY": str(CODE_DELAY)}
    # LOG_TASKS: the "poll_due_orders[…] succeeded in" lines (CYCLE_LINE) are routine lines, off by default.
    worker_env = {"LOG_TASKS": "on", **({"POLL_BATCH_SIZE": str(args.batch)} if args.batch else {})}
    if args.poll_concurrency:
        web_env["POLL_CONCURRENCY"] = str(args.poll_concurrency)
    if args.parallel_cycles:
        web_env["POLL_PARALLEL_CYCLES"] = str(args.parallel_cycles)
    with Stack("workers", extra_env=web_env) as stack:
        sandbox_threads = max(1, GUNICORN_WORKERS * GUNICORN_THREADS // args.sandbox_processes)
        stack.start_web(workers=args.sandbox_processes, threads=sandbox_threads)
        from django.conf import settings
        from django.utils import timezone

        from orders.models import Order, Status
        from sandbox.models import SandboxOrder

        reset_orders()
        # Plan the run from a start moment a little ahead (creating the rows and starting Celery take a while).
        start = timezone.now() + timedelta(seconds=15)
        offsets = [FIRST_CODE_AFTER + args.spread * i / max(1, args.orders - 1) for i in range(args.orders)]
        random.Random(7).shuffle(offsets)
        code_at = [start + timedelta(seconds=o) for o in offsets]
        paid_at = [c - timedelta(seconds=NUMBER_DELAY + CODE_DELAY) for c in code_at]
        created = time.monotonic()
        make_active_receive_orders(args.orders, paid_at=paid_at, status=Status.WAITING_CODE, next_poll_at=start)
        made = sorted(Order.objects.values_list("public_id", flat=True))
        watched = set(random.Random(8).sample(made, watched_count))
        # Stagger the first polls over one fast interval, as in a steady state.
        fast = settings.POLL_FAST_SECONDS
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE orders_order SET next_poll_at = %s + (random() * %s) * interval '1 second'", [start, fast]
            )
        print(
            f"{args.orders} orders created in {time.monotonic() - created:.1f} s; codes arrive from "
            f"+{FIRST_CODE_AFTER} s to +{FIRST_CODE_AFTER + args.spread:.0f} s; "
            + (
                "every order's page open (watched)"
                if watched_count == args.orders
                else f"{watched_count} orders' pages open (watched), the rest not"
            ),
            flush=True,
        )
        pages = PagesOpen(None if watched_count == args.orders else watched) if watched_count else None
        if pages:
            pages.mark_once()  # the pages are open before the workers start, as in a steady state
            pages.start()

        worker_labels = ["worker"] if args.workers == 1 else [f"worker-{i + 1}" for i in range(args.workers)]
        for label in worker_labels:
            stack.start_workers(label=label, concurrency=args.concurrency, env=worker_env)
        stack.start_creator(env=worker_env)
        stack.start_beat(env=worker_env)
        batch = args.batch or settings.POLL_BATCH_SIZE
        print(
            f"gunicorn {stack.base_url} ({args.sandbox_processes} workers x {sandbox_threads} threads), "
            f"{args.workers} celery worker(s) --concurrency {args.concurrency} (prefork) + beat (poll every 2 s); "
            f"POLL_BATCH_SIZE={batch}, "
            f"POLL_CONCURRENCY={settings.POLL_CONCURRENCY}, POLL_FAST_SECONDS={fast}, "
            f"POLL_PARALLEL_CYCLES={settings.POLL_PARALLEL_CYCLES}",
            flush=True,
        )

        sampler = Sampler(stack, [*worker_labels, "beat", "web"])
        sampler.sample()
        cpu0 = {label: sampler.cpu_seconds(label) for label in sampler.labels}
        wait = (start - timezone.now()).total_seconds()
        if wait > 0:
            time.sleep(wait)
        window_started = time.monotonic()
        deadline = start + timedelta(seconds=FIRST_CODE_AFTER + args.spread + args.tail)
        last_report = 0.0
        while timezone.now() < deadline:
            sampler.sample()
            done = Order.objects.filter(status=Status.COMPLETED).count()
            if done == args.orders:
                break
            if time.monotonic() - last_report >= 15:
                last_report = time.monotonic()
                elapsed = (timezone.now() - start).total_seconds()
                due = sum(1 for c in code_at if c <= timezone.now())
                print(f"  +{elapsed:5.0f} s: {due} codes available, {done} orders completed", flush=True)
            time.sleep(0.5)
        sampler.sample()
        if pages:
            pages.stopped.set()
            pages.join(10)
        window = time.monotonic() - window_started
        cpu = {label: sampler.cpu_seconds(label) - cpu0[label] for label in sampler.labels}
        # The workers together (as the single worker's figures), each node's also printed below.
        cpu["worker"] = sum(cpu[label] for label in worker_labels)
        sampler.peak_rss["worker"] = sum(sampler.peak_rss[label] for label in worker_labels)
        sampler.peak_proc_rss["worker"] = max(sampler.peak_proc_rss[label] for label in worker_labels)

        # The sandbox's own timeline says when each code became available.
        available = {
            o.order_id: dict((state, when) for when, state in o.timeline())["code"] for o in SandboxOrder.objects.all()
        }
        rows = list(Order.objects.values_list("upstream_id", "status", "completed_at", "public_id"))
        lag_of = {
            public_id: (completed - available[uid]).total_seconds()
            for uid, status, completed, public_id in rows
            if status == Status.COMPLETED
        }
        lags = list(lag_of.values())
        watched_lags = [lag for public_id, lag in lag_of.items() if public_id in watched]
        unwatched_lags = [lag for public_id, lag in lag_of.items() if public_id not in watched]
        lost = [(uid, status) for uid, status, *_ in rows if status != Status.COMPLETED]
        cycles = [
            (float(sec), report)
            for label in worker_labels
            for sec, report in CYCLE_LINE.findall(stack.logs[label].read_bytes())
        ]
        reset_orders()

    print()
    print(f"{args.orders} receive orders, codes over {args.spread:.0f} s, {window:.0f} s measured:")
    for name, group in (("all", lags), ("watched", watched_lags), ("unwatched", unwatched_lags)):
        if group and (name == "all" or 0 < watched_count < args.orders):
            print(
                f"  lag code available -> order row completed ({name}, {len(group)}): p50 "
                f"{percentile(group, 50):.2f} s, p95 {percentile(group, 95):.2f} s, max {max(group):.2f} s, "
                f"min {min(group):.2f} s"
            )
    print(
        f"  completed {len(lags)}/{args.orders}; not completed (lost): {len(lost)}"
        + (f" e.g. {lost[:3]}" if lost else "")
    )
    if cycles:
        reports = [ast.literal_eval(r.decode()) for _, r in cycles]
        busy = [(s, r) for (s, _), r in zip(cycles, reports, strict=True) if r["claimed"]]
        durations = [s for s, _ in busy] or [0.0]
        sizes = [r["claimed"] for _, r in busy] or [0]
        # A cycle claims, asks and applies up to 100 orders at a time (a "chunk"), until nothing is due.
        per_chunk = [s / r.get("chunks", 1) for s, r in busy] or [0.0]
        polled = sum(sizes)
        unwatched_count = args.orders - watched_count
        needed_rate = watched_count / settings.POLL_FAST_SECONDS + unwatched_count / settings.POLL_UNWATCHED_SECONDS
        print(
            f"  poll cycles (tasks): {len(cycles)} ({len(busy)} with work); orders per cycle median "
            f"{statistics.median(sizes):.0f}, max {max(sizes)}; "
            f"duration median {statistics.median(durations):.2f} s, "
            f"p95 {percentile(durations, 95):.2f} s, max {max(durations):.2f} s"
        )
        print(
            f"  per chunk of <= 100 orders: median {statistics.median(per_chunk):.2f} s, "
            f"p95 {percentile(per_chunk, 95):.2f} s; {polled} polls = {polled / window:.0f} orders polled/s "
            f"(the schedule asks {needed_rate:.0f}/s)"
        )
        print(
            f"  worker CPU per poll: {1000 * cpu['worker'] / max(1, polled):.1f} ms; gunicorn (sandbox) CPU per "
            f"poll: {1000 * cpu['web'] / max(1, polled):.1f} ms"
        )
    for label, name in (("worker", "celery workers"), ("beat", "celery beat"), ("web", "gunicorn (sandbox)")):
        if label == "worker" and args.workers > 1:
            for node in worker_labels:
                print(f"  {node:20s} CPU {cpu[node]:6.1f} s = {100 * cpu[node] / window:5.1f}% of one core")
        print(
            f"  {name:20s} CPU {cpu[label]:6.1f} s = {100 * cpu[label] / window:5.1f}% of one core; "
            f"peak RSS {sampler.peak_rss[label] / 2**20:6.0f} MiB (largest process "
            f"{sampler.peak_proc_rss[label] / 2**20:.0f} MiB)"
        )
    cycle_p95 = percentile([s for s, _ in cycles], 95) if cycles else 0.0
    print()
    ok = True
    if watched_count:
        watched_ok = bool(watched_lags) and percentile(watched_lags, 95) <= WATCHED_TARGET_SECONDS
        p95 = f"{percentile(watched_lags, 95):.2f} s" if watched_lags else "n/a"
        verdict(watched_ok, f"watched orders: p95 lag {p95} (target <= {WATCHED_TARGET_SECONDS:.0f} s)")
        ok = ok and watched_ok
    if watched_count < args.orders:
        beat = settings.CELERY_BEAT_SCHEDULE["poll-due-orders"]["schedule"]
        bound = settings.POLL_UNWATCHED_SECONDS + beat + cycle_p95
        unwatched_ok = bool(unwatched_lags) and percentile(unwatched_lags, 95) <= bound
        p95 = f"{percentile(unwatched_lags, 95):.2f} s, max {max(unwatched_lags):.2f} s" if unwatched_lags else "n/a"
        verdict(
            unwatched_ok,
            f"unwatched orders: p95 lag {p95} (bound <= {bound:.1f} s = POLL_UNWATCHED_SECONDS "
            f"{settings.POLL_UNWATCHED_SECONDS} + beat period {beat:.0f} + p95 cycle {cycle_p95:.1f})",
        )
        ok = ok and unwatched_ok
    verdict(not lost, f"none lost: {len(lost)} of {args.orders} not completed")
    print(machine_line())
    return 0 if ok and not lost else 1


if __name__ == "__main__":
    sys.exit(main())
