"""Two workers (as on two machines) claiming due orders at the same moment: each order is claimed once per
cycle, so no answer is applied twice. Cycles run side by side with POLL_PARALLEL_CYCLES above 1, and a cycle that
outlives its lock (a stalled worker) runs beside the next one: the claim itself must hold.

PostgreSQL only: the claim's row locks (SELECT ... FOR UPDATE SKIP LOCKED) are what is tested; SQLite has one
writer at a time and no row locks (run with DATABASE_URL=postgres://...)."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from orders import polling
from orders.models import Order, Status
from tests.factories import make_order

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor == "sqlite", reason="row locks: PostgreSQL only"),
]


def due_orders(count):
    now = timezone.now()
    return [
        make_order(Status.HELD, upstream_id=f"{i:064d}", next_poll_at=now - timedelta(seconds=count - i))
        for i in range(count)
    ]


def in_thread(target, *args):
    """Run ``target`` in a thread with its own database connection (closed at the end); returns the thread and
    a list that gets the result, or the exception."""
    out = []

    def run():
        try:
            out.append(target(*args))
        except Exception as exc:  # shown by the assertion that reads it
            out.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def test_a_claim_in_progress_is_skipped_by_the_other_worker():
    # Worker A has claimed and not committed yet; worker B claims meanwhile: it must neither take A's orders
    # nor wait for A (it takes the next due ones).
    orders = due_orders(6)
    a_claimed, b_done = threading.Event(), threading.Event()

    def worker_a():
        with transaction.atomic():
            claimed = polling.claim_due_orders(3)
            a_claimed.set()
            b_done.wait(5)  # without SKIP LOCKED, B would wait here for A: the test then fails on B's result
        return claimed

    def worker_b():
        a_claimed.wait(5)
        try:
            return polling.claim_due_orders(3)
        finally:
            b_done.set()

    thread_a, out_a = in_thread(worker_a)
    thread_b, out_b = in_thread(worker_b)
    thread_a.join(20)
    thread_b.join(20)
    a, b = out_a[0], out_b[0]
    assert not isinstance(a, Exception) and not isinstance(b, Exception), (a, b)
    assert [o.pk for o in a] == [o.pk for o in orders[:3]]  # the three most overdue
    assert [o.pk for o in b] == [o.pk for o in orders[3:]]


def claim_all(start):
    """One worker's cycle: claim chunks until nothing is due; the primary keys it got."""
    # Connected before the start: a thread still connecting under load once found the other had claimed all.
    connection.ensure_connection()
    start.wait(5)
    claimed = []
    while chunk := polling.claim_due_orders(7):  # small chunks: many chances to collide
        claimed += [o.pk for o in chunk]
        time.sleep(0.002)  # as a cycle asks sms4sats about a chunk before it claims the next
    return claimed


def test_two_workers_claiming_concurrently_take_each_order_once_per_cycle():
    orders = due_orders(240)
    for cycle in range(3):
        start = threading.Barrier(2)
        threads = [in_thread(claim_all, start) for _ in range(2)]
        for thread, _out in threads:
            thread.join(60)
        first, second = (out[0] for _thread, out in threads)
        assert not isinstance(first, Exception) and not isinstance(second, Exception), (first, second)
        assert first and second, "both workers took a share"
        assert not set(first) & set(second), f"cycle {cycle}: claimed by both workers"
        assert len(first) + len(second) == len(set(first) | set(second)) == len(orders)
        # Every order claimed until CLAIM_SECONDS from now; the next cycle finds them due again.
        assert not Order.objects.filter(next_poll_at__lte=timezone.now()).exists()
        Order.objects.update(next_poll_at=timezone.now() - timedelta(seconds=1))
