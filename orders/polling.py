"""One poll cycle: claim the due orders, ask sms4sats about them concurrently, apply the answers.

At most POLL_PARALLEL_CYCLES cycles run at once (one on SQLite; a Redis lock per slot; a tick that finds every
slot taken does nothing) and none runs longer than POLL_CYCLE_MAX_SECONDS. While sms4sats is not answering
(upstream_health) a cycle asks about one order only, a probe; when a call succeeds again every waiting order is
made due at once.
"""

import asyncio
import logging
import queue
import threading
import time
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone

from sms4sats_site.shared_redis import shared_key, shared_redis

from . import lifecycle, status_cache
from .models import CREATION_STATUSES, TERMINAL_STATUSES, Order, Status
from .sms4sats import AsyncSms4satsClient, Sms4satsError, UpstreamUnavailable, upstream_health

log = logging.getLogger(__name__)

# While a worker polls an order, its next_poll_at is pushed this far ahead, so that other workers
# skip it; if the worker dies, the order simply becomes due again.
CLAIM_SECONDS = 60


_report_lock = threading.Lock()

# Orders are polled at most this many at a time: a cycle claims, asks and applies one chunk after another,
# so an answer is applied within one chunk's time and several workers share a large due set.
CHUNK_SIZE = 100


def claim_early_seconds():
    """Claim orders due this little ahead, so that an order scheduled "one interval after its last claim"
    is not missed by a beat tick that arrives a few milliseconds early (it would then wait a whole tick)."""
    return min(0.25, settings.POLL_FAST_SECONDS / 4)


def claim_due_orders(limit, now=None):
    now = now or timezone.now()
    with transaction.atomic():
        due = Order.objects.filter(next_poll_at__lte=now + timedelta(seconds=claim_early_seconds()))
        due = due.order_by("next_poll_at")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        orders = list(due[:limit])
        if orders:
            Order.objects.filter(pk__in=[o.pk for o in orders]).update(
                next_poll_at=now + timedelta(seconds=CLAIM_SECONDS)
            )
    return orders


async def fetch_statuses(upstream_ids, concurrency, client=None, on_answer=None):
    """{upstream_id: OrderStatus or Sms4satsError}; one failure never stops the rest. ``on_answer(upstream_id,
    answer)`` is called as each answer arrives (it must not touch the database: the event loop is running)."""
    if client is None:
        async with AsyncSms4satsClient() as own_client:
            return await fetch_statuses(upstream_ids, concurrency, own_client, on_answer)
    limit = asyncio.Semaphore(concurrency)
    results = {}

    async def fetch(upstream_id):
        async with limit:
            try:
                results[upstream_id] = await client.order_status(upstream_id)
            except Sms4satsError as exc:
                results[upstream_id] = exc
        if on_answer is not None:
            on_answer(upstream_id, results[upstream_id])

    await asyncio.gather(*(fetch(uid) for uid in upstream_ids))
    return results


async def open_client():
    return AsyncSms4satsClient()


def poll_cycle(limit=None):
    """Poll due orders a chunk at a time, up to ``limit`` orders and POLL_CYCLE_MAX_SECONDS. Returns a small
    report, or None when another cycle is running."""
    lock = _take_cycle_slot()
    if lock is None:
        return None
    try:
        return _poll_cycle(limit or settings.POLL_BATCH_SIZE, lock)
    finally:
        try:
            lock.release()
        except Exception:  # expired meanwhile: the next tick takes it
            log.warning("The poll cycle outlived its lock")


def parallel_cycles():
    """How many poll cycles may run at once: POLL_PARALLEL_CYCLES on PostgreSQL, whose claim skips the rows
    another cycle holds (SKIP LOCKED); one on SQLite, which has no such claim."""
    if not connection.features.has_select_for_update_skip_locked:
        return 1
    return max(1, settings.POLL_PARALLEL_CYCLES)


def _take_cycle_slot():
    """One of the parallel_cycles() slots (a Redis lock each), or None when every one is taken. A lock lives one
    cycle's length and is renewed before each chunk: a worker killed mid-cycle frees its slot within that long,
    not after a long timeout. While sms4sats is not answering only the first slot: one probe at a time."""
    slots = parallel_cycles()
    if slots > 1 and upstream_health.is_down():  # asked only where it changes something: not every tick
        slots = 1
    for slot in range(slots):
        name = shared_key("poll-cycle" if slot == 0 else f"poll-cycle:{slot}")
        lock = shared_redis().lock(name, timeout=settings.POLL_CYCLE_MAX_SECONDS)
        if lock.acquire(blocking=False):
            return lock
    return None


def _poll_cycle(limit, lock):
    started = time.monotonic()
    report = {"claimed": 0, "asked": 0, "errors": 0, "changed": 0, "chunks": 0, "probe": False}
    # One event loop and one pooled client for the whole cycle; the ORM runs between the loop's runs, or in the
    # appliers' threads, which apply each answer as it arrives while the cycle asks about the next ones.
    with asyncio.Runner() as runner, Appliers(apply_threads()) as appliers:
        client = None
        previous = None
        first_claim = None
        try:
            while report["claimed"] < limit and time.monotonic() - started < settings.POLL_CYCLE_MAX_SECONDS:
                if upstream_health.take_recovery():
                    report["made_due"] = lifecycle.make_all_due()
                # sms4sats not answering: one order is the probe, the others stay due for when it answers.
                probing = upstream_health.is_down()
                report["probe"] = report["probe"] or probing
                chunk = 1 if probing else min(CHUNK_SIZE, limit - report["claimed"])
                lock.reacquire()
                claimed_at = timezone.now()
                orders = claim_due_orders(chunk, now=claimed_at)
                if not orders:
                    break
                first_claim = first_claim or claimed_at
                if client is None:
                    client = runner.run(open_client())
                current = poll_chunk(orders, next_looks_from(first_claim, claimed_at), report, runner, client, appliers)
                # At most two chunks in flight: the one being asked about and the one being applied.
                if previous is not None:
                    previous.wait()
                previous = current
                if len(orders) < chunk or (probing and upstream_health.is_down()):
                    break
        finally:
            if client is not None:
                runner.run(client.aclose())
    report["seconds"] = round(time.monotonic() - started, 3)
    return report


def next_looks_from(first_claim, claimed_at):
    """When the next look at a chunk's unchanged orders is counted from: the cycle's first claim, for the chunks
    it claims within half a period of it; else the chunk's own claim. Counted from each chunk's own claim, the
    orders of a cycle's second chunk would be due a moment after the next cycle's second claim whenever that
    cycle asked about its first chunk faster, and wait a whole extra tick (4 s, not 2, for a watched page)."""
    if (claimed_at - first_claim).total_seconds() < settings.POLL_FAST_SECONDS / 2:
        return first_claim
    return claimed_at


def poll_chunk(orders, counted_from, report, runner, client, appliers):
    """Ask sms4sats about one chunk of claimed orders; each answer goes to the appliers as it arrives. Returns
    the chunk, whose wait() returns once every answer is applied and the unchanged orders are scheduled one
    interval after ``counted_from`` (``next_looks_from``)."""
    watched = status_cache.watched(o.public_id for o in orders)  # one look for the chunk, not one per move
    for order in orders:
        order.page_watched = order.public_id in watched
    to_ask = {o.upstream_id: o for o in orders if o.upstream_id and o.status not in CREATION_STATUSES}
    chunk = Chunk(orders, counted_from, report, watched_asked=[o.public_id for o in to_ask.values() if o.page_watched])
    report["chunks"] += 1
    report["claimed"] += len(orders)
    report["asked"] += len(to_ask)
    for order in orders:
        if order.upstream_id not in to_ask:
            appliers.submit(chunk, order, None)  # nothing to ask yet: scheduled as usual
    submitted = set()

    def on_answer(upstream_id, answer):
        submitted.add(upstream_id)
        appliers.submit(chunk, to_ask[upstream_id], answer)

    try:
        if to_ask:
            runner.run(fetch_statuses(list(to_ask), settings.POLL_CONCURRENCY, client, on_answer))
    finally:
        # Orders whose answer never came (the fetch failed as a whole) stay claimed: due again after the claim.
        chunk.forget(len(to_ask) - len(submitted))
        appliers.run_here()
    return chunk


class Chunk:
    """A chunk's claimed orders while their answers are applied, by any of the appliers' threads."""

    def __init__(self, orders, counted_from, report, watched_asked=()):
        self.counted_from = counted_from
        self.report = report
        self.watched_asked = watched_asked
        self.pending = len(orders)
        self.unchanged = []
        self.done = threading.Event()
        self._lock = threading.Lock()

    def apply(self, order, answer):
        changed = error = 0
        try:
            # One transaction per order: its steps (paid, number, code) commit together, once.
            with transaction.atomic():
                changed = apply_one(order, answer, self.unchanged)
        except Exception:  # one bad order must not stop the cycle; it is due again after the claim
            error = 1
            log.exception("Applying the poll of order %s failed", order.public_id)
        with _report_lock:
            self.report["changed"] += changed
            self.report["errors"] += error
        self.forget(1)

    def forget(self, count):
        """``count`` more orders are done with; the last one schedules the unchanged ones."""
        with self._lock:
            self.pending -= count
            last = self.pending == 0 and count > 0
        if last:
            self.schedule_unchanged()
            status_cache.note_asked(self.watched_asked, time.time())  # the pages time their next poll by it
            self.done.set()

    def schedule_unchanged(self):
        try:
            # Nothing changed for most orders: one UPDATE for all of them, the next look one interval after
            # the claim (not after the answer: then each order would miss every other beat tick).
            lifecycle.schedule_next_polls(self.unchanged, now=self.counted_from)
        except Exception:  # they are due again after the claim
            with _report_lock:
                self.report["errors"] += len(self.unchanged)
            log.exception("Scheduling the next poll of %d orders failed", len(self.unchanged))

    def wait(self):
        self.done.wait()


class Appliers:
    """Threads applying answers as they arrive. Applying is mostly waiting on database commits: a few threads
    side by side, while the cycle asks sms4sats about the next orders, bring a burst (every order due after an
    outage) to the buyers' pages in seconds. With no threads (SQLite, one writer anyway) the answers are
    applied in the cycle's own thread once a chunk's fetch is over (``run_here``)."""

    def __init__(self, threads):
        self.work = queue.SimpleQueue()
        self.threads = [threading.Thread(target=self._serve, daemon=True) for _ in range(threads)]

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        for _ in self.threads:
            self.work.put(None)
        for thread in self.threads:
            thread.join()

    def submit(self, chunk, order, answer):
        self.work.put((chunk, order, answer))

    def run_here(self):
        while not self.threads and not self.work.empty():
            chunk, order, answer = self.work.get()
            chunk.apply(order, answer)

    def _serve(self):
        try:
            while (item := self.work.get()) is not None:
                chunk, order, answer = item
                chunk.apply(order, answer)
        finally:
            connections.close_all()  # this thread's own database connection ends with it


def apply_threads():
    """Threads applying answers: none on SQLite (it takes one writer at a time anyway)."""
    if connection.vendor == "sqlite":
        return 0
    return max(1, settings.POLL_APPLY_THREADS)


def apply_one(order, result, unchanged=None):
    """Apply one answer. An order whose answer changed nothing goes to ``unchanged`` (scheduled by the
    caller in one go) when a list is given, else it is scheduled here."""
    if isinstance(result, UpstreamUnavailable):
        # sms4sats did not answer: not this order's fault. It is asked again on its usual schedule (an outage
        # turns the cycles into probes, upstream_health), with no backoff of its own to wait out afterwards.
        result = None
    elif isinstance(result, Sms4satsError):
        lifecycle.back_off(order, result.reason)
        return 0
    changed = 0
    if result is not None:
        before = (order.status, order.sms_status, order.number, order.code)
        lifecycle.apply_status(order, result)
        changed = int((order.status, order.sms_status, order.number, order.code) != before)
    if not changed:
        if unchanged is None:
            lifecycle.schedule_next_poll(order)
        else:
            unchanged.append(order)
    return changed


def creation_queue_length():
    """Tasks waiting in the creation queue (the broker's Redis list of that name); None if unknown."""
    try:
        return shared_redis().llen(settings.CELERY_CREATE_QUEUE)
    except Exception:
        return None


def sweep(now=None):
    """Catch what fell through: creations lost before or during their task, live orders nobody polls."""
    now = now or timezone.now()
    report = {"stuck_creating": 0, "requeued": 0, "rescheduled": 0}
    stuck = Order.objects.filter(
        status=Status.CREATING, updated_at__lt=now - timedelta(seconds=settings.CREATE_STUCK_SECONDS)
    )
    for order in stuck:
        report["stuck_creating"] += lifecycle.transition(
            order,
            Status.FAILED,
            note="Creation never finished (worker lost mid-call)",
            failure_reason=lifecycle.unsure_creation_text(order, "The order could not be created."),
        )
    # A NEW order whose creation task never ran (the broker lost it, e.g. Redis restarted empty): enqueue it
    # again; the claim in create_upstream makes sure it is created once. Only when the creation queue is empty:
    # while tasks wait there, an old NEW order is waiting its turn, and enqueuing it again would only make the
    # queue longer (a flood of orders would then starve every new buyer).
    if creation_queue_length() == 0:
        old = now - timedelta(seconds=settings.CREATE_REQUEUE_SECONDS)
        lost = list(Order.objects.filter(status=Status.NEW, updated_at__lt=old).values_list("pk", flat=True)[:1000])
        Order.objects.filter(pk__in=lost, status=Status.NEW).update(updated_at=now)  # once per interval
        for pk in lost:
            current_app.send_task(lifecycle.CREATE_TASK, args=(pk,))
        report["requeued"] = len(lost)
    forgotten = Order.objects.exclude(status__in=TERMINAL_STATUSES | CREATION_STATUSES)
    forgotten = forgotten.filter(next_poll_at__isnull=True, reconcile_abandoned_at__isnull=True)
    report["rescheduled"] = forgotten.update(next_poll_at=now)
    return report
